using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace PeftHost.Core.Tokenization;

/// <summary>Builds GPT-2-style byte-level BPE tokenizers from a vocabulary and ranked merges.</summary>
internal static class ByteLevelBpe
{
    /// <summary>A byte-level <see cref="BpeTokenizer"/> that splits with <paramref name="splitPattern"/> first.</summary>
    /// <param name="vocabulary">Token → id, tokens in the byte-to-unicode alphabet.</param>
    /// <param name="merges">The merges, highest priority first, as "left right".</param>
    /// <param name="addedTokens">Tokens matched whole in the input (text → id).</param>
    /// <param name="splitPattern">The pre-tokenizer regular expression.</param>
    /// <param name="normalizer">Applied to the text before the split, if any.</param>
    public static BpeTokenizer Create(
        IEnumerable<KeyValuePair<string, int>> vocabulary, IEnumerable<string> merges,
        IReadOnlyDictionary<string, int> addedTokens, string splitPattern, Normalizer? normalizer = null)
    {
        var specials = addedTokens.Count > 0 ? addedTokens : null;
        return BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = specials,
            PreTokenizer = new RegexPreTokenizer(new Regex(splitPattern, RegexOptions.Compiled), specials),
            Normalizer = normalizer,
        });
    }
}
