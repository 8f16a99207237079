namespace PeftHost.Core.Data;

/// <summary>Shortens a text until its tokenization fits a budget.</summary>
public static class TextFitter
{
    /// <summary>
    /// The longest prefix of <paramref name="text"/> (cut at a character boundary, never inside a
    /// surrogate pair) for which <paramref name="tokenCount"/> is at most <paramref name="budget"/>,
    /// found by bisection on the length. Returns the text unchanged when it already fits, and null
    /// when even the empty prefix does not.
    /// </summary>
    public static string? Fit(string text, Func<string, int> tokenCount, int budget)
    {
        if (tokenCount(text) <= budget) return text;
        if (tokenCount("") > budget) return null;
        int lo = 0, hi = text.Length; // prefix of length lo fits, of length hi does not
        while (hi - lo > 1)
        {
            int mid = lo + (hi - lo) / 2;
            if (tokenCount(Prefix(text, mid)) <= budget) lo = mid; else hi = mid;
        }
        return Prefix(text, lo);
    }

    private static string Prefix(string text, int length)
    {
        if (length > 0 && length < text.Length && char.IsHighSurrogate(text[length - 1])) length--;
        return text[..length];
    }
}
