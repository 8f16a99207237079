namespace PeftHost.Core.Data;

/// <summary>Shortens a text until its tokenization fits a budget.</summary>
public static class TextFitter
{
    /// <summary>
    /// The longest prefix of <paramref name="text"/> (cut at a character boundary, never inside a
    /// surrogate pair) for which <paramref name="tokenCount"/> is at most <paramref name="budget"/>.
    /// The search starts from a guess proportional to the token overshoot, gallops to bracket the
    /// answer, then bisects — a handful of tokenizations of texts near the final length.
    /// Returns the text unchanged when it already fits, and null when even the empty prefix does not.
    /// </summary>
    public static string? Fit(string text, Func<string, int> tokenCount, int budget)
    {
        int full = tokenCount(text);
        if (full <= budget) return text;
        int empty = tokenCount("");
        if (empty > budget) return null;
        bool Fits(int length) => tokenCount(Prefix(text, length)) <= budget;

        int lo = 0, hi = text.Length; // a prefix of length lo fits, of length hi does not
        int guess = (int)((long)text.Length * (budget - empty) / Math.Max(1, full - empty));
        if (guess > 0 && guess < hi)
        {
            int step = Math.Max(4, guess / 16);
            if (Fits(guess))
            {
                lo = guess;
                while (lo + step < hi)
                {
                    if (!Fits(lo + step)) { hi = lo + step; break; }
                    lo += step;
                    step *= 2;
                }
            }
            else
            {
                hi = guess;
                while (hi - step > lo)
                {
                    if (Fits(hi - step)) { lo = hi - step; break; }
                    hi -= step;
                    step *= 2;
                }
            }
        }
        while (hi - lo > 1)
        {
            int mid = lo + (hi - lo) / 2;
            if (Fits(mid)) lo = mid; else hi = mid;
        }
        return Prefix(text, lo);
    }

    private static string Prefix(string text, int length)
    {
        if (length > 0 && length < text.Length && char.IsHighSurrogate(text[length - 1])) length--;
        return text[..length];
    }
}
