namespace PeftHost.Core.Tokenization;

/// <summary>
/// What a tokenizer file yields before the folder's config files name the special tokens: the
/// segmenter, its ids, its added tokens and the defaults the format itself carries.
/// </summary>
/// <param name="Inner">The tokenizer that segments text.</param>
/// <param name="Kind">One of <see cref="TokenizerKinds"/>.</param>
/// <param name="VocabSize">Highest id + 1, added tokens included.</param>
/// <param name="IdOf">The id of a token's text, or null when there is none.</param>
internal sealed record TokenizerModel(ITokenCodec Inner, string Kind, int VocabSize, Func<string, int?> IdOf)
{
    /// <summary>
    /// The highest token id a file may give (2^24 - 1, far above any real vocabulary): a larger one is
    /// a damaged file, and "highest id + 1" must not overflow or size a huge table.
    /// </summary>
    public const int MaxTokenId = (1 << 24) - 1;

    /// <summary>Tokens matched whole in the input.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];

    /// <summary>The BOS id the file itself names.</summary>
    public int? DefaultBos { get; init; }

    /// <summary>The EOS id the file itself names.</summary>
    public int? DefaultEos { get; init; }

    /// <summary>The unknown-token id, a special token when there is one.</summary>
    public int? UnkId { get; init; }

    /// <summary>Whether the file says encoding starts with BOS (a tokenizer.json post-processor); null when it does not say.</summary>
    public bool? AddBosHint { get; init; }
}
