namespace PeftHost.Core.Tokenization;

/// <summary>
/// Loads a Hugging Face <c>tokenizer.json</c> BPE: byte-level ones as a <see cref="ByteLevelBpe"/>, SentencePiece-style ones (LLaMA-2, Gemma) as a <see cref="SentencePieceStyleBpe"/>.
/// </summary>
internal static class HfTokenizerJsonLoader
{
    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <param name="path">The tokenizer.json file.</param>
    /// <param name="configAddedTokens">tokenizer_config.json's added tokens; tokenizer.json's own win on the same id.</param>
    /// <exception cref="TokenizerFormatException">The file is malformed or uses something unsupported.</exception>
    public static TokenizerModel Load(string path, IReadOnlyList<AddedToken> configAddedTokens)
    {
        var json = HfTokenizerJsonReader.Read(path);
        var added = AddedTokens(json, configAddedTokens);
        return json.Style == HfBpeStyle.ByteLevel
            ? LoadByteLevel(path, json, added)
            : LoadSentencePiece(path, json, added);
    }

    /// <summary>The file's added tokens, then tokenizer_config.json's on ids the file does not give.</summary>
    internal static List<AddedToken> AddedTokens(HfTokenizerJson json, IReadOnlyList<AddedToken> configAddedTokens) =>
        json.AddedTokens.Concat(configAddedTokens).DistinctBy(t => t.Id).ToList();

    private static TokenizerModel LoadByteLevel(string path, HfTokenizerJson json, List<AddedToken> added)
    {
        ByteLevelBpe tokenizer;
        try
        {
            tokenizer = new ByteLevelBpe(json.Vocabulary, json.Merges, added.DistinctBy(t => t.Content).ToList(), json.SplitPattern,
                json.Nfc ? UnicodeNfc.Normalize : null, json.AddPrefixSpace, json.IgnoreMerges);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException(path, $"its BPE model does not load ({e.Message})", e);
        }
        var specials = added.DistinctBy(t => t.Content).ToDictionary(t => t.Content, t => t.Id);
        var vocabulary = json.Vocabulary;
        int? IdOf(string token) => specials.TryGetValue(token, out var id) || vocabulary.TryGetValue(token, out id) ? id : null;
        return new TokenizerModel(tokenizer, TokenizerKinds.Bpe, vocabulary.Values.Concat(specials.Values).Max() + 1, IdOf)
        {
            AddedTokens = added,
            DefaultBos = json.TemplateBos is { } bos ? IdOf(bos) : null,
            AddBosHint = json.TemplateAddsBos,
        };
    }

    private static TokenizerModel LoadSentencePiece(string path, HfTokenizerJson json, List<AddedToken> added)
    {
        var tokens = TokensById(json.Vocabulary, added, path);
        var vocabulary = json.Vocabulary;
        if (!vocabulary.TryGetValue(json.UnkToken!, out var unkId))
            throw new TokenizerFormatException(path, $"the unknown token \"{json.UnkToken}\" is not in the vocabulary");
        var merges = new List<(int, int, int)>(json.Merges.Count);
        foreach (var (left, right) in json.Merges)
        {
            if (!vocabulary.TryGetValue(left, out var leftId) || !vocabulary.TryGetValue(right, out var rightId))
                throw new TokenizerFormatException(path, $"the merge (\"{left}\", \"{right}\") names a token that is not in the vocabulary");
            // A merge whose result is not a token can never be used (the result could not be emitted).
            if (vocabulary.TryGetValue(left + right, out var mergedId))
                merges.Add((leftId, rightId, mergedId));
        }
        var specials = added.DistinctBy(t => t.Content).ToDictionary(t => t.Content, t => t.Id);
        int? IdOf(string token) => specials.TryGetValue(token, out var id) || vocabulary.TryGetValue(token, out id) ? id : null;
        var codec = new SentencePieceStyleBpe(tokens, vocabulary, merges, added, unkId, json.ByteFallback, json.Prefix, json.StripLeadingSpaces);
        return new TokenizerModel(codec, TokenizerKinds.SentencePiece, tokens.Keys.Max() + 1, IdOf)
        {
            AddedTokens = added,
            DefaultBos = IdOf(json.TemplateBos ?? "<s>"),
            DefaultEos = IdOf("</s>"),
            UnkId = unkId,
            AddBosHint = json.TemplateAddsBos,
        };
    }

    /// <summary>Token text by id; ids must not clash (a gap, an id no token has, decodes to nothing).</summary>
    private static Dictionary<int, string> TokensById(Dictionary<string, int> vocabulary, List<AddedToken> added, string path)
    {
        var tokens = new Dictionary<int, string>(vocabulary.Count + added.Count);
        foreach (var (token, id) in vocabulary.Select(p => (p.Key, p.Value)).Concat(added.Select(t => (t.Content, t.Id))))
        {
            if (tokens.TryGetValue(id, out var other) && other != token)
                throw new TokenizerFormatException(path, $"id {id} is given to both \"{other}\" and \"{token}\"");
            tokens[id] = token;
        }
        return tokens;
    }
}
