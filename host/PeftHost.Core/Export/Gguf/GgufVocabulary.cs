using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Export.Gguf;

/// <summary>GGUF token types (llama.cpp's <c>llama_token_type</c>).</summary>
internal static class GgufTokenType
{
    public const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;
}

/// <summary>
/// The <c>tokenizer.*</c> metadata of a model folder, as llama.cpp's <c>convert_hf_to_gguf.py</c> writes it: the token
/// list of a SentencePiece <c>tokenizer.model</c> (<c>tokenizer.ggml.model = "llama"</c>) or of a byte-level BPE
/// <c>tokenizer.json</c> (<c>"gpt2"</c>, see <see cref="GgufByteLevelVocabulary"/>), then the special ids,
/// <c>add_bos_token</c> / <c>add_eos_token</c> and the chat template.
/// </summary>
public static class GgufVocabulary
{
    /// <summary>The tokenizer metadata of <paramref name="modelDir"/> for a model of <paramref name="vocabSize"/> ids.</summary>
    /// <exception cref="TokenizerFormatException">The folder's tokenizer is not one GGUF export handles.</exception>
    public static List<KeyValuePair<string, GgufValue>> Metadata(string modelDir, int vocabSize)
    {
        var tokenizer = TokenizerLoader.Load(modelDir);
        var config = TokenizerConfigFiles.Read(modelDir);
        var sentencePiece = Path.Combine(modelDir, "tokenizer.model");
        var tokenizerJson = Path.Combine(modelDir, "tokenizer.json");
        var (metadata, types) = File.Exists(sentencePiece) && !TiktokenLoader.LooksLikeTiktoken(sentencePiece)
            ? SentencePieceTokens(sentencePiece, config, vocabSize)
            : File.Exists(tokenizerJson)
                ? GgufByteLevelVocabulary.Tokens(tokenizerJson, tokenizer, config, vocabSize)
                : throw new TokenizerFormatException(modelDir, "GGUF export needs a SentencePiece tokenizer.model or a byte-level BPE " +
                    "tokenizer.json; this folder's tokenizer (vocab.json with merges.txt, or tiktoken) is not exported yet");

        void Id(string key, int? id)
        {
            if (id is int value && value >= 0 && value < vocabSize) metadata.Add(new(key, GgufValue.U32((uint)value)));
        }
        Id("tokenizer.ggml.bos_token_id", tokenizer.BosTokenId);
        Id("tokenizer.ggml.eos_token_id", tokenizer.EosTokenIds.Count > 0 ? tokenizer.EosTokenIds[0] : null);
        Id("tokenizer.ggml.unknown_token_id", Array.IndexOf(types, GgufTokenType.Unknown) is var unk and >= 0 ? unk : null);
        Id("tokenizer.ggml.padding_token_id", tokenizer.PadTokenId);
        metadata.Add(new("tokenizer.ggml.add_bos_token", GgufValue.Bool(tokenizer.AddBosToken)));
        metadata.Add(new("tokenizer.ggml.add_eos_token", GgufValue.Bool(AddEosToken(config.TokenizerConfigPath))));
        if (ChatTemplate(modelDir) is string template) metadata.Add(new("tokenizer.chat_template", GgufValue.Str(template)));
        return metadata;
    }

    /// <summary>
    /// A SentencePiece vocabulary: every piece with its score and token type, pieces listed in <c>added_tokens_decoder</c>
    /// replaced by their content (CONTROL when special, else USER_DEFINED, score −1000), ids past the pieces up to the
    /// model's vocabulary size filled with <c>[PADn]</c> (UNUSED, score −1000).
    /// </summary>
    private static (List<KeyValuePair<string, GgufValue>> Metadata, int[] Types) SentencePieceTokens(string path, TokenizerConfigFiles config, int vocabSize)
    {
        var pieces = SentencePieceModelReader.ReadPieces(path);
        if (pieces.Count > vocabSize)
            throw new TokenizerFormatException(path, $"has {pieces.Count} pieces, more than the model's vocab_size {vocabSize}");

        var tokens = new string[vocabSize];
        var scores = new float[vocabSize];
        var types = new int[vocabSize];
        for (int id = 0; id < vocabSize; id++)
        {
            if (id < pieces.Count)
            {
                tokens[id] = pieces[id].Piece;
                scores[id] = pieces[id].Score;
                types[id] = TokenType(pieces[id].Type);
            }
            else
            {
                tokens[id] = $"[PAD{id}]";
                scores[id] = -1000f;
                types[id] = GgufTokenType.Unused;
            }
        }
        foreach (var added in config.AddedTokens.Where(t => t.Id < vocabSize))
        {
            tokens[added.Id] = added.Content;
            scores[added.Id] = -1000f;
            types[added.Id] = added.Special ? GgufTokenType.Control : GgufTokenType.UserDefined;
        }
        return ([
            new("tokenizer.ggml.model", GgufValue.Str("llama")),
            new("tokenizer.ggml.tokens", GgufValue.Strings(tokens)),
            new("tokenizer.ggml.scores", GgufValue.Floats(scores)),
            new("tokenizer.ggml.token_type", GgufValue.Ints(types)),
        ], types);
    }

    /// <summary>
    /// The folder's chat template: <c>chat_template.jinja</c>, else <c>tokenizer_config.json</c>'s <c>chat_template</c>
    /// (a string, or the entry named "default" of a list of named templates); null when there is none.
    /// </summary>
    public static string? ChatTemplate(string modelDir)
    {
        var jinja = Path.Combine(modelDir, "chat_template.jinja");
        if (File.Exists(jinja)) return File.ReadAllText(jinja);
        var configPath = Path.Combine(modelDir, "tokenizer_config.json");
        return JsonFiles.ReadObjectIfExists(configPath)?["chat_template"] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonArray named => named.OfType<JsonObject>().FirstOrDefault(t => (string?)t["name"] == "default")?["template"]?.GetValue<string>(),
            var other => throw new TokenizerFormatException(configPath, $"\"chat_template\" is {JsonFiles.Describe(other)}; expected a string or a list of named templates"),
        };
    }

    /// <summary>convert_hf_to_gguf maps SentencePiece's types one to one, except USER_DEFINED pieces, which it writes as NORMAL.</summary>
    private static int TokenType(SentencePieceType type) => type switch
    {
        SentencePieceType.Unknown => GgufTokenType.Unknown,
        SentencePieceType.Control => GgufTokenType.Control,
        SentencePieceType.Unused => GgufTokenType.Unused,
        SentencePieceType.Byte => GgufTokenType.Byte,
        _ => GgufTokenType.Normal,
    };

    private static bool AddEosToken(string tokenizerConfigPath) =>
        JsonFiles.ReadObjectIfExists(tokenizerConfigPath)?["add_eos_token"] is JsonValue v && v.GetValueKind() == JsonValueKind.True;
}
