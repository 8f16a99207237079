using Jint;
using Jint.Native;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Interop;
using PeftHost.Core.Recipes.Limits;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes.Interop;

/// <summary>
/// Makes the JS functions of the API. Each is a plain <see cref="ClrFunction"/> over a body that
/// takes and returns <see cref="JsValue"/>s (no reflection-based interop). Host failures become
/// JavaScript errors — a <c>TypeError</c> for a wrong argument or option, an <c>Error</c> otherwise —
/// thrown at the call, so scripts can catch them and uncaught ones carry the call's file:line and
/// the JS stack. Sandbox limits and cancellation pass through untouched: scripts cannot catch them.
/// </summary>
public static class HostFunctions
{
    /// <summary>A function named <paramref name="name"/> that runs <paramref name="body"/> on its arguments.</summary>
    public static ClrFunction Create(Engine engine, string name, int length, Func<JsValue[], JsValue> body, CancellationToken cancellation = default) =>
        new(engine, name, (_, args) => Guard(engine, name, args, body, cancellation), length, PropertyFlag.Configurable);

    private static JsValue Guard(Engine engine, string name, JsValue[] args, Func<JsValue[], JsValue> body, CancellationToken cancellation)
    {
        try
        {
            return body(args);
        }
        catch (JavaScriptException)
        {
            throw; // a script error from a callback: it keeps its own location and stack
        }
        catch (RecipeLimitException)
        {
            throw;
        }
        catch (RecipeCancelledException e)
        {
            throw AtCallSite(engine, e);
        }
        catch (OperationCanceledException e) when (cancellation.IsCancellationRequested)
        {
            throw AtCallSite(engine, new RecipeCancelledException($"{name}: cancelled", e));
        }
        catch (JintException)
        {
            throw; // engine limits (recursion depth…) end the run as they are
        }
        catch (Exception e) when (e is RecipeApiException or ConfigException)
        {
            throw new JavaScriptException(engine.Intrinsics.TypeError, Prefixed(name, e.Message), e);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or StackOverflowException or InsufficientExecutionStackException))
        {
            throw new JavaScriptException(engine.Intrinsics.Error, Prefixed(name, Runtime.FailureText.Describe(e)), e);
        }
    }

    /// <summary>The key under which <see cref="AtCallSite"/> keeps the JavaScript stack of a host call.</summary>
    public const string CallStackKey = "PeftHost.Recipes.CallStack";

    /// <summary>
    /// Records where a host-made cancellation happened: the JavaScript stack from the call of this
    /// function outwards. Jint annotates CLR exceptions as they cross script frames, but after a
    /// long step that ran callbacks its "current position" is the callback's last statement, not
    /// the call. An exception already annotated by Jint (raised by a statement in a callback) keeps its place.
    /// </summary>
    private static Exception AtCallSite(Engine engine, Exception e)
    {
        if (JintException.TryGetJavaScriptLocation(e, out _) || e.Data.Contains(CallStackKey)) return e;
        var frames = engine.Advanced.StackTrace.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)).ToList();
        if (frames.Count > 1) frames.RemoveAt(0); // the host function's own frame; the next one is its call
        if (frames.Count > 0) e.Data[CallStackKey] = string.Join("\n", frames);
        return e;
    }

    private static string Prefixed(string name, string message) =>
        message.StartsWith(name + ":", StringComparison.Ordinal) || message.StartsWith(name + " ", StringComparison.Ordinal) ? message : $"{name}: {message}";

}
