namespace PeftHost.Core.Data;

/// <summary>
/// What the data pipeline needs from a tokenizer. <c>Tokenization.TextTokenizer</c> has these
/// members, so it satisfies the interface with a one-line declaration or adapter.
/// </summary>
public interface ITokenEncoder
{
    /// <summary>Token ids of <paramref name="text"/>, with BOS in front when <paramref name="addBos"/> and the tokenizer has one.</summary>
    IReadOnlyList<int> Encode(string text, bool addBos);

    /// <summary>The text of <paramref name="ids"/>.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);

    /// <summary>Beginning-of-sequence id, if the tokenizer has one.</summary>
    int? BosTokenId { get; }

    /// <summary>End-of-sequence ids (the first is appended after documents and responses).</summary>
    IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Padding id, if the tokenizer has one.</summary>
    int? PadTokenId { get; }

    /// <summary>Number of ids.</summary>
    int VocabSize { get; }

    /// <summary>
    /// The object that identifies this tokenizer in a <see cref="TokenizationCache"/>: two encoders
    /// with the same identity must produce the same ids. An adapter returns the tokenizer it wraps.
    /// </summary>
    object CacheIdentity => this;
}

/// <summary>Conveniences over <see cref="ITokenEncoder"/>.</summary>
public static class TokenEncoderExtensions
{
    /// <summary>The id appended after documents and responses: the first EOS id, or null when the tokenizer has none.</summary>
    public static int? EndOfSequence(this ITokenEncoder tokenizer) => tokenizer.EosTokenIds.Count > 0 ? tokenizer.EosTokenIds[0] : null;

    /// <summary>The id used to pad batches: PAD, else the first EOS, else 0 (padded positions are masked either way).</summary>
    public static int PaddingId(this ITokenEncoder tokenizer) => tokenizer.PadTokenId ?? tokenizer.EndOfSequence() ?? 0;
}
