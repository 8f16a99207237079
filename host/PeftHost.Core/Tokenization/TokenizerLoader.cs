namespace PeftHost.Core.Tokenization;

/// <summary>
/// Loads the tokenizer of a model folder, whatever format it holds, in this order:
/// <c>tokenizer.model</c> (SentencePiece, or a tiktoken file as Meta ships LLaMA-3),
/// <c>tokenizer.json</c> (Hugging Face BPE, byte-level or SentencePiece style),
/// <c>vocab.json</c> + <c>merges.txt</c> (GPT-2 byte-level BPE), a <c>*.tiktoken</c> file.
/// Special tokens come from <c>tokenizer_config.json</c>, then <c>generation_config.json</c> and
/// <c>config.json</c>, then the tokenizer file itself.
/// </summary>
public static class TokenizerLoader
{
    /// <summary>The tokenizer of <paramref name="modelDir"/>.</summary>
    /// <param name="modelDir">A model folder in Hugging Face layout.</param>
    /// <exception cref="TokenizerFormatException">
    /// The folder does not exist or holds no tokenizer, or a file is missing, corrupt or unsupported;
    /// the message starts with the path at fault.
    /// </exception>
    public static TextTokenizer Load(string modelDir)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDir);
        if (!Directory.Exists(modelDir))
            throw new TokenizerFormatException(modelDir, File.Exists(modelDir)
                ? "is a file; a tokenizer is loaded from the model folder"
                : "no such directory");
        var config = TokenizerConfigFiles.Read(modelDir);
        var model = LoadModel(modelDir, config);
        return new TextTokenizer(model.Inner, model.Kind, model.VocabSize, SpecialTokenResolver.Resolve(model, config),
            config.CleanUpTokenizationSpaces ?? false);
    }

    private static TokenizerModel LoadModel(string dir, TokenizerConfigFiles config)
    {
        var sentencePiece = Path.Combine(dir, "tokenizer.model");
        if (File.Exists(sentencePiece))
            return TiktokenLoader.LooksLikeTiktoken(sentencePiece)
                ? TiktokenLoader.Load(sentencePiece, config.AddedTokens)
                : LoadSentencePiece(sentencePiece, config.AddedTokens);

        var tokenizerJson = Path.Combine(dir, "tokenizer.json");
        if (File.Exists(tokenizerJson))
            return HfTokenizerJsonLoader.Load(tokenizerJson, config.AddedTokens);

        var vocab = Path.Combine(dir, "vocab.json");
        var merges = Path.Combine(dir, "merges.txt");
        if (File.Exists(vocab) || File.Exists(merges))
        {
            var (present, missing) = File.Exists(vocab) ? (vocab, "merges.txt") : (merges, "vocab.json");
            return File.Exists(vocab) && File.Exists(merges)
                ? Gpt2BpeLoader.Load(vocab, merges, config.AddedTokens)
                : throw new TokenizerFormatException(present, $"has no {missing} beside it; a GPT-2 BPE needs both");
        }

        return Directory.GetFiles(dir, "*.tiktoken") switch
        {
            [var tiktoken] => TiktokenLoader.Load(tiktoken, config.AddedTokens),
            [] => throw new TokenizerFormatException(dir,
                "holds no tokenizer: expected tokenizer.model, tokenizer.json, vocab.json with merges.txt, or a *.tiktoken file"),
            var several => throw new TokenizerFormatException(dir,
                $"holds {several.Length} *.tiktoken files ({string.Join(", ", several.Select(Path.GetFileName).Order())}); keep one"),
        };
    }

    private static TokenizerModel LoadSentencePiece(string path, IReadOnlyList<AddedToken> addedTokens)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return SentencePieceModelLoader.Load(stream, path, addedTokens);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, $"cannot be read: {e.Message}", e);
        }
    }
}
