namespace PeftHost.Core.Evaluation;

/// <summary>
/// One window over a long token sequence: the model reads tokens [<see cref="Begin"/>, <see cref="End"/>)
/// and scores the predictions of tokens [<see cref="ScoredFrom"/>, <see cref="End"/>); the tokens before
/// <see cref="ScoredFrom"/> are context only.
/// </summary>
public readonly record struct TokenWindow(int Begin, int End, int ScoredFrom)
{
    /// <summary>Tokens the model reads.</summary>
    public int Length => End - Begin;

    /// <summary>Tokens whose prediction is scored.</summary>
    public int Scored => End - ScoredFrom;

    /// <summary>Where the scored predictions start in the window's logits (position <c>i</c> predicts token <c>i + 1</c>).</summary>
    public int FirstScoredLogit => ScoredFrom - Begin - 1;
}

/// <summary>How a text longer than the model's context is scored: the one windowing every whole-text score uses.</summary>
public static class TokenWindows
{
    /// <summary>
    /// Hugging Face's strided sliding window (the perplexity guide): windows of at most <paramref name="window"/>
    /// tokens start every <paramref name="stride"/> tokens, and each scores only the tokens the previous one did not,
    /// so every token after the first is predicted exactly once, with at least window − stride tokens before it
    /// (all of them near the start). A stride equal to the window gives non-overlapping windows, whose first tokens
    /// have nothing before them in the window and are not scored.
    /// </summary>
    public static IReadOnlyList<TokenWindow> Strided(int tokens, int window, int stride)
    {
        if (window < 2) throw new ArgumentOutOfRangeException(nameof(window), window, "a window must hold at least 2 tokens");
        if (stride < 1 || stride > window)
            throw new ArgumentException($"stride must be between 1 and the window of {window} tokens, got {stride}");
        if (tokens < 2) throw new ArgumentException($"need at least 2 tokens to score, got {tokens}");
        var windows = new List<TokenWindow>();
        int scoredUpTo = 1; // token 0 is never scored: nothing predicts it
        for (int begin = 0; ; begin += stride)
        {
            int end = Math.Min(begin + window, tokens);
            int from = Math.Max(scoredUpTo, begin + 1);
            if (end > from) windows.Add(new TokenWindow(begin, end, from));
            scoredUpTo = Math.Max(scoredUpTo, end);
            if (end == tokens) break;
        }
        return windows;
    }
}
