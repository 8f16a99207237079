using System.Text.RegularExpressions;
using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Runtime;
using PeftHost.Core.Recipes.Limits;
using PeftHost.Core.Recipes.Sandbox;

namespace PeftHost.Core.Recipes;

/// <summary>
/// Turns whatever ended a run into a <see cref="RecipeFailure"/>: the script file, line and column
/// the error belongs to, its message, and the JavaScript stack. Jint reports the position in
/// different places depending on the error (a thrown Error's stack, the exception's location,
/// data attached to a CLR exception, the module loader for syntax errors); this is where they meet.
/// </summary>
internal sealed partial class RecipeErrorReport(RecipeModuleLoader loader, string recipePath, RecipeLimits limits)
{
    /// <summary>The failure <paramref name="e"/> describes.</summary>
    public RecipeFailure Describe(Exception e)
    {
        if (loader.SyntaxError is { } syntax)
            return new RecipeFailure(RecipeFailureKind.Syntax, $"SyntaxError: {syntax.Description}", Display(syntax.File), syntax.Line, syntax.Column, null);
        if (loader.ImportError is { } import)
            return new RecipeFailure(RecipeFailureKind.Script, $"Error: {import.Message}", Display(import.File ?? recipePath), import.Line, import.Column, null);
        return e switch
        {
            RecipeCancelledException or OperationCanceledException => Located(RecipeFailureKind.Cancelled, e, e.Message is { Length: > 0 } m && m != "The operation was canceled." ? m : "cancelled"),
            RecipeLimitException limit => Located(RecipeFailureKind.Limit, e, limit.Message),
            RecursionDepthOverflowException recursion => Recursion(recursion),
            MemoryLimitExceededException when ArraySize().Match(e.Message) is { Success: true } m =>
                Located(RecipeFailureKind.Limit, e, $"memory limit reached: an array of {long.Parse(m.Groups[1].Value):N0} elements is more than the {long.Parse(m.Groups[2].Value):N0} one array may hold (raise it with --max-memory)"),
            InsufficientExecutionStackException or Jint.Runtime.StatementsCountOverflowException or MemoryLimitExceededException
                => Located(RecipeFailureKind.Limit, e, $"{e.Message} (a sandbox limit)"),
            JavaScriptException js => Script(js),
            InvalidOperationException when e.Message.Contains("did not return a fulfilled promise: Pending", StringComparison.Ordinal) =>
                new RecipeFailure(RecipeFailureKind.Script, "the module's top-level await never finished: it waits on a promise that nothing settles " +
                    "(the API's calls are synchronous; only promises the recipe makes itself can stay pending)", Display(recipePath), null, null, null),
            _ => Located(RecipeFailureKind.Script, e, e is SandboxViolationException ? e.Message : $"unexpected failure: {e.Message}"),
        };
    }

    /// <summary>A failure before the script could start.</summary>
    public static RecipeFailure Setup(string recipePath, string message) => new(RecipeFailureKind.Setup, message, recipePath, null, null, null);

    /// <summary>A run given up on inside one call (see <see cref="SingleCallWatch"/>): where in the recipe is not known.</summary>
    public static RecipeFailure Abandoned(string recipePath, string message, bool cancelled) =>
        new(cancelled ? RecipeFailureKind.Cancelled : RecipeFailureKind.Limit, message, Display(recipePath), null, null, null);

    private RecipeFailure Script(JavaScriptException e)
    {
        string message = Message(e.Error, e.Message);
        bool fromHost = JintException.TryGetClrException(e, out var clr);
        // A host function's own frame carries an arbitrary position inside its call; the call is the frame below.
        var stack = CleanStack(e.JavaScriptStackTrace, dropFirstFrame: fromHost);
        var kind = clr is RecipeLimitException ? RecipeFailureKind.Limit : RecipeFailureKind.Script;
        if (TopFrame(stack) is { } top) return new RecipeFailure(kind, message, top.File, top.Line, top.Column, stack);
        if (e.Location != default && !string.IsNullOrEmpty(e.Location.SourceFile))
            return new RecipeFailure(kind, message, Display(e.Location.SourceFile), e.Location.Start.Line, e.Location.Start.Column + 1, stack);
        return new RecipeFailure(kind, message, Display(recipePath), null, null, stack);
    }

    private RecipeFailure Located(RecipeFailureKind kind, Exception e, string message)
    {
        if (e.Data[Interop.HostFunctions.CallStackKey] is string callSite && TopFrame(CleanStack(callSite)) is { } site)
            return new RecipeFailure(kind, message, site.File, site.Line, site.Column, CleanStack(callSite));
        string? stack = JintException.TryGetJavaScriptCallStack(e, out var callStack) ? CleanStack(callStack) : null;
        if (JintException.TryGetJavaScriptLocation(e, out var location) && !string.IsNullOrEmpty(location.SourceFile))
            return new RecipeFailure(kind, message, Display(location.SourceFile), location.Start.Line, location.Start.Column + 1, stack);
        if (TopFrame(stack) is { } top) return new RecipeFailure(kind, message, top.File, top.Line, top.Column, stack);
        return new RecipeFailure(kind, message, Display(recipePath), null, null, stack);
    }

    /// <summary>
    /// Jint reports a recursion overflow with the function's name but no position: find where that
    /// function is defined in the loaded modules.
    /// </summary>
    private RecipeFailure Recursion(RecursionDepthOverflowException e)
    {
        string name = e.CallExpressionReference ?? "";
        string message = $"recursion limit reached: '{name}' is on the call stack more than {limits.MaxRecursionDepth:N0} times (a sandbox limit)";
        foreach (var module in loader.Loaded)
        {
            var lines = File.ReadAllLines(module);
            for (int i = 0; i < lines.Length && name.Length > 0; i++)
            {
                var m = Regex.Match(lines[i], $@"(?:function\s*\*?\s*{Regex.Escape(name)}\s*\(|\b{Regex.Escape(name)}\s*[=:]\s*(?:async\s*)?(?:function|\())");
                if (m.Success) return new RecipeFailure(RecipeFailureKind.Limit, message, Display(module), i + 1, m.Index + 1, null);
            }
        }
        return Located(RecipeFailureKind.Limit, e, message);
    }

    /// <summary>"TypeError: message" for Error objects; the value itself for other throws.</summary>
    private static string Message(JsValue error, string fallback)
    {
        if (error is ObjectInstance o && o.Get("message") is { } message && message.IsString())
        {
            string name = o.Get("name") is { } n && n.IsString() ? n.AsString() : "Error";
            return $"{name}: {message.AsString()}";
        }
        if (error.IsString()) return $"uncaught \"{error.AsString()}\"";
        return error.IsUndefined() ? fallback : $"uncaught {error}";
    }

    /// <summary>The stack with paths shown as <see cref="Display"/> does.</summary>
    private string? CleanStack(string? stack, bool dropFirstFrame = false)
    {
        if (string.IsNullOrWhiteSpace(stack)) return null;
        var lines = stack.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)).ToList();
        if (dropFirstFrame && lines.Count > 1) lines.RemoveAt(0);
        return string.Join(Environment.NewLine, lines.Select(l => FramePath().Replace(l, m => Display(m.Groups["path"].Value) + m.Groups["pos"].Value)));
    }

    private static (string File, int Line, int Column)? TopFrame(string? stack)
    {
        if (stack is null) return null;
        foreach (var line in stack.Split(Environment.NewLine))
        {
            var m = FrameLocation().Match(line);
            if (m.Success) return (m.Groups["file"].Value, int.Parse(m.Groups["line"].Value), int.Parse(m.Groups["col"].Value));
        }
        return null;
    }

    /// <summary>A module path as the user reads it: relative to the current folder when inside it.</summary>
    private static string Display(string path)
    {
        if (path.StartsWith("file://", StringComparison.Ordinal)) path = new Uri(path).LocalPath;
        if (!Path.IsPathFullyQualified(path)) return path;
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), path);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathFullyQualified(relative) ? path : relative;
    }

    [GeneratedRegex(@"The array size (\d+) is larger than maximum allowed \((\d+)\)")]
    private static partial Regex ArraySize();

    [GeneratedRegex(@"(?<path>(?:file://)?/[^():]+?)(?<pos>:\d+:\d+)")]
    private static partial Regex FramePath();

    [GeneratedRegex(@"at (?:.*\()?(?<file>[^()]+?):(?<line>\d+):(?<col>\d+)\)?\s*$")]
    private static partial Regex FrameLocation();
}
