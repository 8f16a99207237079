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
        catch (RecipeCancelledException)
        {
            throw;
        }
        catch (OperationCanceledException e) when (cancellation.IsCancellationRequested)
        {
            throw new RecipeCancelledException($"{name}: cancelled", e);
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
            throw new JavaScriptException(engine.Intrinsics.Error, Prefixed(name, Describe(e)), e);
        }
    }

    private static string Prefixed(string name, string message) =>
        message.StartsWith(name + ":", StringComparison.Ordinal) || message.StartsWith(name + " ", StringComparison.Ordinal) ? message : $"{name}: {message}";

    /// <summary>The message of a host failure; unexpected exception types also name their type.</summary>
    private static string Describe(Exception e) => e switch
    {
        ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException or FormatException
            or NotSupportedException => e.Message,
        _ when e.GetType().Name.EndsWith("FormatException", StringComparison.Ordinal) => e.Message,
        _ => $"{e.GetType().Name}: {e.Message}",
    };
}
