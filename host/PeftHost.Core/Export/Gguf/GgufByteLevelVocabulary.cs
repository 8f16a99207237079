using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Export.Gguf;

/// <summary>
/// A byte-level BPE <c>tokenizer.json</c> (LLaMA-3, Qwen) as llama.cpp's <c>convert_hf_to_gguf.py</c> writes it
/// (<c>get_vocab_base</c>, <c>_set_vocab_gpt2</c>): <c>tokenizer.ggml.model = "gpt2"</c>; the pre-tokenizer name
/// (<see cref="GgufPreTokenizer"/>); every id up to the model's vocabulary size with its token, in the byte-to-unicode
/// alphabet as the file holds it (NORMAL), an added token's text (CONTROL when special or when it looks like a control
/// token, else USER_DEFINED), or <c>[PADn]</c> (UNUSED) where no token has the id; and the merges as "left right".
/// </summary>
internal static class GgufByteLevelVocabulary
{
    /// <summary>The token metadata, and the token type of every id.</summary>
    /// <param name="path">The tokenizer.json file.</param>
    /// <param name="tokenizer">The folder's tokenizer, loaded from that file (it runs the pre-tokenizer probe).</param>
    /// <param name="config">The folder's tokenizer config files (their added tokens).</param>
    /// <param name="vocabSize">The model's vocabulary size.</param>
    /// <exception cref="TokenizerFormatException">The file is not a byte-level BPE, has ids past the model's vocabulary, or llama.cpp has no pre-tokenizer for it.</exception>
    public static (List<KeyValuePair<string, GgufValue>> Metadata, int[] Types) Tokens(
        string path, TextTokenizer tokenizer, TokenizerConfigFiles config, int vocabSize)
    {
        var json = HfTokenizerJsonReader.Read(path);
        if (json.Style != HfBpeStyle.ByteLevel)
            throw new TokenizerFormatException(path, "is a SentencePiece-style BPE without a tokenizer.model beside it; GGUF export takes " +
                "SentencePiece vocabularies from tokenizer.model");
        var added = HfTokenizerJsonLoader.AddedTokens(json, config.AddedTokens);
        if (tokenizer.VocabSize > vocabSize)
            throw new TokenizerFormatException(path, $"has ids up to {tokenizer.VocabSize - 1}, past the model's vocab_size {vocabSize}");

        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        Array.Fill(types, GgufTokenType.Unused);
        foreach (var (token, id) in json.Vocabulary)
        {
            tokens[id] = token;
            types[id] = GgufTokenType.Normal;
        }
        foreach (var token in added)
        {
            // llama.cpp matches USER_DEFINED tokens in raw text, so a SentencePiece space mark becomes a space (as convert does).
            var control = token.Special || LooksLikeControl(token.Content);
            tokens[token.Id] = control ? token.Content : token.Content.Replace('\u2581', ' ');
            types[token.Id] = control ? GgufTokenType.Control : GgufTokenType.UserDefined;
        }
        for (var id = 0; id < vocabSize; id++)
            tokens[id] ??= $"[PAD{id}]";

        return ([
            new("tokenizer.ggml.model", GgufValue.Str("gpt2")),
            new("tokenizer.ggml.pre", GgufValue.Str(GgufPreTokenizer.NameOf(tokenizer, path, json))),
            new("tokenizer.ggml.tokens", GgufValue.Strings(tokens)),
            new("tokenizer.ggml.token_type", GgufValue.Ints(types)),
            new("tokenizer.ggml.merges", GgufValue.Strings(json.Merges.Select(m => $"{m.Left} {m.Right}").ToArray())),
        ], types);
    }

    /// <summary>
    /// Added tokens some models leave unmarked as special although they are control tokens (convert_hf_to_gguf's
    /// <c>does_token_look_special</c>): <c>&lt;|…|&gt;</c> chat markers, DeepSeek's full-width <c>&lt;｜…｜&gt;</c>, Gemma's
    /// <c>&lt;unused…&gt;</c>, and a few fixed names.
    /// </summary>
    private static bool LooksLikeControl(string token) =>
        token is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]"
        || (token.StartsWith("<|", StringComparison.Ordinal) && token.EndsWith("|>", StringComparison.Ordinal))
        || (token.StartsWith("<｜", StringComparison.Ordinal) && token.EndsWith("｜>", StringComparison.Ordinal))
        || (token.StartsWith("<unused", StringComparison.Ordinal) && token.EndsWith('>'));
}
