namespace PeftHost.Core.Recipes;

/// <summary>How a run ended.</summary>
public enum RecipeOutcome
{
    /// <summary>The recipe ran to its end.</summary>
    Succeeded,

    /// <summary>A script error, a host error or a sandbox limit ended it.</summary>
    Failed,

    /// <summary>The host cancelled it (Ctrl-C).</summary>
    Cancelled,
}

/// <summary>What ended a failed run.</summary>
public enum RecipeFailureKind
{
    /// <summary>A module does not parse.</summary>
    Syntax,

    /// <summary>The script threw (or let an API error through).</summary>
    Script,

    /// <summary>A sandbox limit: statements, time, memory, recursion.</summary>
    Limit,

    /// <summary>The run was cancelled.</summary>
    Cancelled,

    /// <summary>The recipe could not start (missing file, bad options).</summary>
    Setup,
}

/// <summary>Where and why a run failed, as <c>recipe.js:LINE:COL: message</c> plus the JavaScript stack.</summary>
/// <param name="Kind">What kind of failure.</param>
/// <param name="Message">The error, e.g. <c>TypeError: generate: unknown option 'maxNewTokns'; did you mean 'maxNewTokens'?</c>.</param>
/// <param name="File">The module it happened in, as displayed (relative to the current folder when inside it).</param>
/// <param name="Line">1-based line, when known.</param>
/// <param name="Column">1-based column, when known.</param>
/// <param name="Stack">The JavaScript stack (one "at …" line per frame), when there is one.</param>
public sealed record RecipeFailure(RecipeFailureKind Kind, string Message, string? File, int? Line, int? Column, string? Stack)
{
    /// <summary><c>file:line:col</c>, or what is known of it.</summary>
    public string Location => File is null ? "recipe" : Line is null ? File : $"{File}:{Line}:{Column}";

    /// <summary>The first line: <c>file:line:col: message</c>.</summary>
    public string Headline => $"{Location}: {Message}";

    /// <summary>The headline and the stack.</summary>
    public override string ToString() => Stack is null ? Headline : Headline + Environment.NewLine + Stack;
}

/// <summary>The result of running a recipe.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Failure">Why it failed or was cancelled; null on success.</param>
/// <param name="OutputFolder">Where its outputs are.</param>
/// <param name="Exports">The names the recipe module exports.</param>
public sealed record RecipeResult(RecipeOutcome Outcome, RecipeFailure? Failure, string OutputFolder, IReadOnlyList<string> Exports);
