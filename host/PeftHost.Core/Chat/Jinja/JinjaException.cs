namespace PeftHost.Core.Chat.Jinja;

/// <summary>
/// A chat template that does not parse or fails while rendering (including the template's own
/// <c>raise_exception</c>). <see cref="Line"/> is the 1-based line in the template's source where it happened.
/// </summary>
public sealed class JinjaException : Exception
{
    public JinjaException(string reason, int line = 0) : base(reason) => (Reason, Line) = (reason, line);

    /// <summary>What went wrong, without the location.</summary>
    public string Reason { get; }

    /// <summary>The template line (1-based); 0 until the interpreter knows it.</summary>
    public int Line { get; internal set; }

    /// <summary>"line N: reason".</summary>
    public override string Message => Line > 0 ? $"line {Line}: {Reason}" : Reason;
}
