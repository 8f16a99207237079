namespace PeftHost.Core.Data;

/// <summary>Tokenizes a prompt followed by a completion and finds where the completion starts.</summary>
public static class PromptCompletion
{
    /// <summary>
    /// Token ids of <paramref name="prompt"/> + <paramref name="completion"/> (BOS first, EOS last when
    /// <paramref name="eos"/> is given), and the index of the first completion token. The pair is
    /// tokenized as one text, so tokens merge across the boundary as they would in use; the prompt
    /// length is that of the prompt tokenized alone, reduced to the longest common prefix if the
    /// boundary merged.
    /// </summary>
    public static (int[] Ids, int PromptLength) Tokenize(ITokenEncoder tokenizer, string prompt, string completion, int? eos)
    {
        var promptIds = tokenizer.Encode(prompt, addBos: true);
        var full = tokenizer.Encode(prompt + completion, addBos: true);
        int common = 0;
        int limit = Math.Min(promptIds.Count, full.Count);
        while (common < limit && promptIds[common] == full[common]) common++;
        var ids = new int[full.Count + (eos is null ? 0 : 1)];
        for (int i = 0; i < full.Count; i++) ids[i] = full[i];
        if (eos is int e) ids[^1] = e;
        return (ids, common);
    }

    /// <summary>An example that supervises only positions from <paramref name="promptLength"/> on.</summary>
    public static TokenizedExample Masked(int[] ids, int promptLength)
    {
        var labels = (int[])ids.Clone();
        Array.Fill(labels, TokenizedExample.IgnoreIndex, 0, Math.Min(promptLength, labels.Length));
        return new TokenizedExample(ids, labels);
    }
}
