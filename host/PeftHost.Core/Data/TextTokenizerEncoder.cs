using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Data;

/// <summary>A <see cref="TextTokenizer"/> seen as the data pipeline's <see cref="ITokenEncoder"/>.</summary>
public sealed class TextTokenizerEncoder(TextTokenizer tokenizer) : ITokenEncoder
{
    /// <summary>The wrapped tokenizer.</summary>
    public TextTokenizer Tokenizer => tokenizer;

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, bool addBos) => tokenizer.Encode(text, addBos);

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) => tokenizer.Decode(ids, skipSpecialTokens);

    /// <inheritdoc />
    public int? BosTokenId => tokenizer.BosTokenId;

    /// <inheritdoc />
    public IReadOnlyList<int> EosTokenIds => tokenizer.EosTokenIds;

    /// <inheritdoc />
    public int? PadTokenId => tokenizer.PadTokenId;

    /// <inheritdoc />
    public int VocabSize => tokenizer.VocabSize;

    /// <inheritdoc />
    public object CacheIdentity => tokenizer;
}

/// <summary>Adapts tokenizers to <see cref="ITokenEncoder"/>.</summary>
public static class TokenEncoderAdapters
{
    /// <summary><paramref name="tokenizer"/> as an <see cref="ITokenEncoder"/>.</summary>
    public static ITokenEncoder AsTokenEncoder(this TextTokenizer tokenizer) => new TextTokenizerEncoder(tokenizer);
}
