namespace PeftHost.Core.Data;

/// <summary>
/// One training sequence: token ids and, aligned with them, the labels (the id itself where the
/// position is supervised, <see cref="IgnoreIndex"/> where it is not: prompts, padding). Position
/// t's logits are scored against label t+1 (see <c>LanguageModelLoss</c>).
/// </summary>
/// <param name="InputIds">Token ids.</param>
/// <param name="Labels">Labels, the same length as <paramref name="InputIds"/>.</param>
public sealed record TokenizedExample(int[] InputIds, int[] Labels)
{
    /// <summary>The label that contributes no loss.</summary>
    public const int IgnoreIndex = -100;

    /// <summary>
    /// For a sequence packed from several (<see cref="ExamplePacker"/>): the 1-based number of the sequence each
    /// position belongs to, so attention stays within it and positions restart at its start; null for one sequence.
    /// </summary>
    public int[]? Segments { get; init; }

    /// <summary>Sequence length.</summary>
    public int Length => InputIds.Length;

    /// <summary>How many tokens are predicted: labels after the first that are not ignored.</summary>
    public int PredictedTokens
    {
        get
        {
            int n = 0;
            for (int i = 1; i < Labels.Length; i++) if (Labels[i] != IgnoreIndex) n++;
            return n;
        }
    }

    /// <summary>An example whose every token is supervised.</summary>
    public static TokenizedExample FullySupervised(int[] ids) => new(ids, (int[])ids.Clone());
}
