namespace PeftHost.Core.Tokenization;

/// <summary>
/// Turns a Hugging Face SentencePiece-style BPE (vocabulary, ranked merges, byte fallback; the
/// LLaMA-2 <c>tokenizer.json</c>) back into SentencePiece pieces. SentencePiece merges the adjacent
/// pair whose joined piece scores highest, so a piece scores minus the rank of the first merge that
/// creates it: the merge order is kept.
/// </summary>
internal static class SentencePieceBpeConverter
{
    /// <summary>SentencePiece's whitespace symbol ▁ (U+2581).</summary>
    public const char SpaceSymbol = '\u2581';

    /// <summary>The pieces, id = position, typed from the unknown token, byte pieces and added tokens.</summary>
    /// <param name="vocabulary">Token → id of the BPE model.</param>
    /// <param name="merges">The merges, highest priority first.</param>
    /// <param name="addedTokens">Added tokens: special ones become CONTROL, the others USER_DEFINED.</param>
    /// <param name="unkToken">The unknown token, which must be in the vocabulary.</param>
    /// <param name="sourceName">The file errors are reported against.</param>
    /// <exception cref="TokenizerFormatException">Ids are not contiguous, clash, or the unknown token is missing.</exception>
    public static SentencePiece[] ToPieces(
        IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<(string Left, string Right)> merges,
        IReadOnlyList<AddedToken> addedTokens, string unkToken, string sourceName)
    {
        var tokens = TokensById(vocabulary, addedTokens, sourceName);
        var rankOfPiece = new Dictionary<string, int>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
            rankOfPiece.TryAdd(merges[rank].Left + merges[rank].Right, rank);
        var addedById = addedTokens.ToDictionary(t => t.Id);
        if (!vocabulary.TryGetValue(unkToken, out var unkId))
            throw new TokenizerFormatException(sourceName, $"the unknown token \"{unkToken}\" is not in the vocabulary");

        var pieces = new SentencePiece[tokens.Length];
        for (var id = 0; id < tokens.Length; id++)
        {
            var token = tokens[id];
            pieces[id] = id == unkId ? new SentencePiece(token, 0, SentencePieceType.Unknown)
                : addedById.TryGetValue(id, out var added)
                    ? new SentencePiece(token, 0, added.Special ? SentencePieceType.Control : SentencePieceType.UserDefined)
                : IsBytePiece(token) ? new SentencePiece(token, 0, SentencePieceType.Byte)
                : rankOfPiece.TryGetValue(token, out var rank) ? new SentencePiece(token, -rank, SentencePieceType.Normal)
                // Not made by any merge (single characters): below every merged piece.
                : new SentencePiece(token, -(merges.Count + id), SentencePieceType.Normal);
        }
        return pieces;
    }

    /// <summary>True for the byte-fallback pieces <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>.</summary>
    public static bool IsBytePiece(string token)
        => token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
           && Uri.IsHexDigit(token[3]) && Uri.IsHexDigit(token[4])
           && !char.IsLower(token[3]) && !char.IsLower(token[4]);

    private static string[] TokensById(IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<AddedToken> addedTokens, string sourceName)
    {
        var all = vocabulary.Select(pair => (Token: pair.Key, Id: pair.Value))
            .Concat(addedTokens.Select(t => (Token: t.Content, t.Id)));
        var count = all.Select(t => t.Id + 1).DefaultIfEmpty(0).Max();
        foreach (var (token, id) in all)
        {
            if (id < 0)
                throw new TokenizerFormatException(sourceName, $"token \"{token}\" has the negative id {id}");
        }
        // Find a gap before sizing the table by the highest id: one stray huge id must not allocate a huge table.
        var distinct = all.Select(t => t.Id).Distinct().Order().ToArray();
        for (var expected = 0; expected < distinct.Length; expected++)
        {
            if (distinct[expected] != expected)
                throw new TokenizerFormatException(sourceName, $"no token has id {expected}; a SentencePiece vocabulary needs contiguous ids 0..{count - 1}");
        }
        var tokens = new string?[count];
        foreach (var (token, id) in all)
        {
            if (tokens[id] is { } other && other != token)
                throw new TokenizerFormatException(sourceName, $"id {id} is given to both \"{other}\" and \"{token}\"");
            tokens[id] = token;
        }
        return tokens!;
    }
}
