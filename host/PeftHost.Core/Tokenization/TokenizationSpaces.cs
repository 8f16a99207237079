namespace PeftHost.Core.Tokenization;

/// <summary>
/// Hugging Face's <c>clean_up_tokenization_spaces</c>: removes the space that word-level tokenizers
/// leave before punctuation and English contractions, when <c>tokenizer_config.json</c> asks for it.
/// </summary>
internal static class TokenizationSpaces
{
    // transformers' clean_up_tokenization, in its order.
    private static readonly (string From, string To)[] Replacements =
    [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
        (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ];

    /// <summary><paramref name="text"/> without those spaces.</summary>
    public static string CleanUp(string text)
    {
        foreach (var (from, to) in Replacements)
            text = text.Replace(from, to, StringComparison.Ordinal);
        return text;
    }
}
