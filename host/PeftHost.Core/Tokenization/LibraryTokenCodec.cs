using Microsoft.ML.Tokenizers;

namespace PeftHost.Core.Tokenization;

/// <summary>A <c>Microsoft.ML.Tokenizers</c> tokenizer (SentencePiece model, byte-level BPE, tiktoken) as a codec.</summary>
internal sealed class LibraryTokenCodec(Tokenizer inner) : ITokenCodec
{
    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text) => inner is SentencePieceTokenizer sentencePiece
        ? sentencePiece.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false)
        : inner.EncodeToIds(text);

    /// <inheritdoc/>
    /// <remarks>
    /// The library is told to keep special tokens: which ids to skip is decided before (the library's own
    /// skipping drops every added token, the non-special ones such as &lt;think&gt; too).
    /// </remarks>
    public string Decode(IEnumerable<int> ids) => inner switch
    {
        SentencePieceTokenizer sentencePiece => sentencePiece.Decode(ids, considerSpecialTokens: true),
        BpeTokenizer bpe => bpe.Decode(ids, considerSpecialTokens: true),
        _ => inner.Decode(ids),
    };
}
