using Microsoft.ML.Tokenizers;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// Loads a Hugging Face <c>tokenizer.json</c> BPE: byte-level ones as a byte-level
/// <see cref="BpeTokenizer"/>, SentencePiece-style ones (LLaMA-2) converted to a SentencePiece model
/// in memory and loaded with <see cref="LlamaTokenizer"/>.
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
        var added = json.AddedTokens.Concat(configAddedTokens).DistinctBy(t => t.Id).ToList();
        return json.Style == HfBpeStyle.ByteLevel
            ? LoadByteLevel(path, json, added)
            : LoadSentencePiece(path, json, added);
    }

    private static TokenizerModel LoadByteLevel(string path, HfTokenizerJson json, List<AddedToken> added)
    {
        if (json.Nfc && json.AddPrefixSpace)
            throw new TokenizerFormatException(path, "an NFC normalizer together with add_prefix_space is not supported");
        Normalizer? normalizer = json.Nfc ? new NfcNormalizer() : json.AddPrefixSpace ? new PrefixSpaceNormalizer() : null;
        var specials = added.DistinctBy(t => t.Content).ToDictionary(t => t.Content, t => t.Id);
        BpeTokenizer tokenizer;
        try
        {
            tokenizer = ByteLevelBpe.Create(json.Vocabulary, json.Merges.Select(m => $"{m.Left} {m.Right}"),
                specials, json.SplitPattern, normalizer);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new TokenizerFormatException(path, $"its BPE model does not load ({e.GetType().Name}: {e.Message})", e);
        }
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
        var pieces = SentencePieceBpeConverter.ToPieces(json.Vocabulary, json.Merges, added, json.UnkToken!, path);
        int IdOrNone(string? token) => token is not null && json.Vocabulary.TryGetValue(token, out var id) ? id : -1;
        var model = SentencePieceModelWriter.Write(pieces, new SentencePieceModelSpec
        {
            UnkId = IdOrNone(json.UnkToken),
            BosId = IdOrNone(json.TemplateBos ?? "<s>"),
            EosId = IdOrNone("</s>"),
            PadId = -1,
            ByteFallback = json.ByteFallback,
            AddDummyPrefix = json.AddPrefixSpace,
            RemoveExtraWhitespaces = false,
            EscapeWhitespaces = true,
        });
        using var stream = new MemoryStream(model, writable: false);
        return SentencePieceModelLoader.Load(stream, path, added, json.TemplateAddsBos);
    }
}
