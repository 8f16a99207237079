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
internal sealed partial class RecipeErrorReport(RecipeModuleLoader loader, string recipePath)
{
    /// <summary>The failure <paramref name="e"/> describes.</summary>
    public RecipeFailure Describe(Exception e)
    {
        if (loader.SyntaxError is { } syntax)
            return new RecipeFailure(RecipeFailureKind.Syntax, $"SyntaxError: {syntax.Description}", Display(syntax.File), syntax.Line, syntax.Column, null);
        return e switch
        {
            RecipeCancelledException or OperationCanceledException => Located(RecipeFailureKind.Cancelled, e, e.Message is { Length: > 0 } m && m != "The operation was canceled." ? m : "cancelled"),
            RecipeLimitException limit => Located(RecipeFailureKind.Limit, e, limit.Message),
            RecursionDepthOverflowException or InsufficientExecutionStackException or Jint.Runtime.StatementsCountOverflowException or MemoryLimitExceededException
                => Located(RecipeFailureKind.Limit, e, $"{e.Message} (a sandbox limit)"),
            JavaScriptException js => Script(js),
            _ => Located(RecipeFailureKind.Script, e, e is SandboxViolationException ? e.Message : $"{e.GetType().Name}: {e.Message}"),
        };
    }

    /// <summary>A failure before the script could start.</summary>
    public static RecipeFailure Setup(string recipePath, string message) => new(RecipeFailureKind.Setup, message, recipePath, null, null, null);

    private RecipeFailure Script(JavaScriptException e)
    {
        string message = Message(e.Error, e.Message);
        if (loader.ImportError is { } import && message.Contains("module", StringComparison.OrdinalIgnoreCase)) message = "Error: " + import;
        var stack = CleanStack(e.JavaScriptStackTrace);
        var kind = JintException.TryGetClrException(e, out var clr) && clr is RecipeLimitException ? RecipeFailureKind.Limit : RecipeFailureKind.Script;
        if (TopFrame(stack) is { } top) return new RecipeFailure(kind, message, top.File, top.Line, top.Column, stack);
        if (e.Location != default && !string.IsNullOrEmpty(e.Location.SourceFile))
            return new RecipeFailure(kind, message, Display(e.Location.SourceFile), e.Location.Start.Line, e.Location.Start.Column + 1, stack);
        return new RecipeFailure(kind, message, Display(recipePath), null, null, stack);
    }

    private RecipeFailure Located(RecipeFailureKind kind, Exception e, string message)
    {
        string? stack = JintException.TryGetJavaScriptCallStack(e, out var callStack) ? CleanStack(callStack) : null;
        if (JintException.TryGetJavaScriptLocation(e, out var location) && !string.IsNullOrEmpty(location.SourceFile))
            return new RecipeFailure(kind, message, Display(location.SourceFile), location.Start.Line, location.Start.Column + 1, stack);
        if (TopFrame(stack) is { } top) return new RecipeFailure(kind, message, top.File, top.Line, top.Column, stack);
        return new RecipeFailure(kind, message, Display(recipePath), null, null, stack);
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
    private string? CleanStack(string? stack)
    {
        if (string.IsNullOrWhiteSpace(stack)) return null;
        var lines = stack.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
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

    [GeneratedRegex(@"(?<path>(?:file://)?/[^():]+?)(?<pos>:\d+:\d+)")]
    private static partial Regex FramePath();

    [GeneratedRegex(@"at (?:.*\()?(?<file>[^()]+?):(?<line>\d+):(?<col>\d+)\)?\s*$")]
    private static partial Regex FrameLocation();
}
