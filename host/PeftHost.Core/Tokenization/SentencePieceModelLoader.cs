using Microsoft.ML.Tokenizers;

namespace PeftHost.Core.Tokenization;

/// <summary>Loads a SentencePiece BPE <c>ModelProto</c> (<c>tokenizer.model</c>) with <see cref="LlamaTokenizer"/>.</summary>
internal static class SentencePieceModelLoader
{
    /// <summary>Loads the model in <paramref name="model"/>.</summary>
    /// <param name="model">The serialized ModelProto.</param>
    /// <param name="sourceName">The file errors are reported against.</param>
    /// <param name="addedTokens">Tokens matched whole in the input (Hugging Face's added tokens).</param>
    /// <param name="addBosHint">What the source says about BOS, if anything.</param>
    /// <exception cref="TokenizerFormatException">The bytes are not a SentencePiece model the library can load.</exception>
    public static TokenizerModel Load(Stream model, string sourceName, IReadOnlyList<AddedToken> addedTokens, bool? addBosHint = null)
    {
        var specials = addedTokens.DistinctBy(t => t.Content).ToDictionary(t => t.Content, t => t.Id);
        LlamaTokenizer tokenizer;
        try
        {
            tokenizer = LlamaTokenizer.Create(model, addBeginOfSentence: false, addEndOfSentence: false,
                specialTokens: specials.Count > 0 ? specials : null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new TokenizerFormatException(sourceName, $"is not a SentencePiece BPE model that loads ({e.GetType().Name}: {e.Message})", e);
        }
        var vocabulary = tokenizer.Vocabulary;
        var vocabSize = Math.Max(vocabulary.Count, addedTokens.Select(t => t.Id + 1).DefaultIfEmpty(0).Max());
        return new TokenizerModel(new LibraryTokenCodec(tokenizer), TokenizerKinds.SentencePiece, vocabSize,
            token => specials.TryGetValue(token, out var id) || vocabulary.TryGetValue(token, out id) ? id : null)
        {
            AddedTokens = addedTokens,
            DefaultBos = tokenizer.BeginningOfSentenceId >= 0 ? tokenizer.BeginningOfSentenceId : null,
            DefaultEos = tokenizer.EndOfSentenceId >= 0 ? tokenizer.EndOfSentenceId : null,
            UnkId = tokenizer.UnknownId >= 0 ? tokenizer.UnknownId : null,
            AddBosHint = addBosHint,
        };
    }
}
