namespace PeftHost.Core.Chat.Jinja;

/// <summary>Counts what one rendering consumes against its <see cref="JinjaLimits"/>.</summary>
internal sealed class JinjaBudget(JinjaLimits limits)
{
    private long _iterations;
    private int _depth;

    public JinjaLimits Limits { get; } = limits;

    /// <summary>One loop iteration (or one generated range item).</summary>
    public void Iterate()
    {
        if (++_iterations > Limits.MaxIterations)
            throw new JinjaException($"the template ran more than {Limits.MaxIterations:N0} loop iterations");
    }

    /// <summary>Refuses text longer than the output limit (checked wherever text grows).</summary>
    public void CheckLength(int length)
    {
        if (length > Limits.MaxOutputChars)
            throw new JinjaException($"the template produced more than {Limits.MaxOutputChars:N0} characters");
    }

    public string CheckLength(string text)
    {
        CheckLength(text.Length);
        return text;
    }

    /// <summary>Enters a macro call; dispose to leave it.</summary>
    public Exit EnterCall()
    {
        if (++_depth > Limits.MaxCallDepth)
        {
            _depth--;
            throw new JinjaException($"macros call each other deeper than {Limits.MaxCallDepth} levels");
        }
        return new Exit(this);
    }

    public readonly struct Exit(JinjaBudget budget) : IDisposable
    {
        public void Dispose() => budget._depth--;
    }
}
