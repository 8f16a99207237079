namespace PeftHost.Core.Recipes.Limits;

/// <summary>Which budget a recipe ran out of.</summary>
public enum RecipeLimitKind
{
    /// <summary>Too many JavaScript statements.</summary>
    Statements,

    /// <summary>Too much time spent running JavaScript (host steps excluded).</summary>
    Time,

    /// <summary>Too many bytes allocated by JavaScript.</summary>
    Memory,
}

/// <summary>
/// A recipe exceeded a sandbox limit. Thrown from the engine's constraint checks between statements;
/// scripts cannot catch it (it is not a JavaScript error), so it always ends the run.
/// </summary>
public sealed class RecipeLimitException(RecipeLimitKind kind, string message) : Exception(message)
{
    /// <summary>The budget exceeded.</summary>
    public RecipeLimitKind Kind { get; } = kind;
}

/// <summary>
/// The run was cancelled (Ctrl-C or the host's token). Thrown between statements or by a host step
/// that stopped at a step boundary; scripts cannot catch it.
/// </summary>
public sealed class RecipeCancelledException(string message, Exception? inner = null) : OperationCanceledException(message, inner);
