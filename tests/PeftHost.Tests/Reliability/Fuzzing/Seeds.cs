using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Reliability.Fuzzing;

/// <summary>The valid files the fuzz runs start from, built deterministically (and small: thousands of cases each).</summary>
public static class Seeds
{
    /// <summary>The tiny model's config: a 2-layer LLaMA, 32 wide, vocabulary 64.</summary>
    public const string TinyConfigJson = """
        {
          "architectures": ["LlamaForCausalLM"],
          "model_type": "llama",
          "hidden_size": 32,
          "intermediate_size": 64,
          "num_hidden_layers": 2,
          "num_attention_heads": 4,
          "num_key_value_heads": 2,
          "vocab_size": 64,
          "max_position_embeddings": 128,
          "rms_norm_eps": 1e-05,
          "rope_theta": 10000.0,
          "rope_scaling": null,
          "tie_word_embeddings": false,
          "hidden_act": "silu",
          "bos_token_id": 1,
          "eos_token_id": 2,
          "torch_dtype": "float32"
        }
        """;

    /// <summary>A safetensors file with one tensor of every dtype family, metadata, and an empty tensor.</summary>
    public static byte[] SafeTensors()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.weight"] = arange(24, ScalarType.Float32).reshape(4, 6),
            ["b.half"] = arange(8, ScalarType.Float32).to(ScalarType.Float16),
            ["c.bf16"] = ones(3, 2, ScalarType.BFloat16),
            ["d.ids"] = arange(5, ScalarType.Int64),
            ["e.bytes"] = arange(7, ScalarType.Int32).to(ScalarType.Byte),
            ["f.mask"] = tensor(new[] { true, false, true }),
            ["g.empty"] = zeros(0, 4, ScalarType.Float32),
            ["h.scalar"] = tensor(3.5f),
        };
        string path = dir["seed.safetensors"];
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "seed" });
        return File.ReadAllBytes(path);
    }

    /// <summary>Splits a safetensors file into its header JSON and its data section (null when the length prefix is unusable).</summary>
    public static (byte[] Header, byte[] Data)? SplitSafeTensors(byte[] file)
    {
        if (file.Length < 8) return null;
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (length > (ulong)(file.Length - 8)) return null;
        return (file[8..(8 + (int)length)], file[(8 + (int)length)..]);
    }

    /// <summary>A safetensors file from a header and a data section, with the right length prefix.</summary>
    public static byte[] JoinSafeTensors(byte[] header, byte[] data)
    {
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    /// <summary>A model folder of the tiny model: config.json, generation_config.json, model.safetensors.</summary>
    public static void WriteTinyModel(string folder, long seed = 3)
    {
        var config = ModelConfig.FromJson(JsonNode.Parse(TinyConfigJson)!.AsObject(), "tiny");
        using var model = ModelLoader.CreateRandom(config, seed: seed);
        ModelLoader.Save(model, folder);
        File.WriteAllText(Path.Combine(folder, ModelLoader.ConfigFileName), TinyConfigJson);
    }

    /// <summary>A LoRA adapter folder for the tiny model (r = 2 on q_proj and v_proj, B randomised).</summary>
    public static void WriteTinyLoraAdapter(string folder)
    {
        var config = ModelConfig.FromJson(JsonNode.Parse(TinyConfigJson)!.AsObject(), "tiny");
        using var model = ModelLoader.CreateRandom(config, seed: 3);
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        peft.AddAdapter("lora", new JsonObject { ["r"] = 2, ["loraAlpha"] = 4, ["targetModules"] = new JsonArray("q_proj", "v_proj") });
        using (no_grad())
            foreach (var (_, p) in peft["default"].Adapter.NamedParameters()) p.normal_(0, 0.1);
        peft.SaveAdapter(folder);
    }

    /// <summary>The bundled stories260k model's SentencePiece <c>tokenizer.model</c> (512 pieces).</summary>
    public static byte[] TokenizerModel() => File.ReadAllBytes(Path.Combine(TestPaths.Stories260k, "tokenizer.model"));

    /// <summary>The bundled stories260k model's <c>tokenizer_config.json</c>.</summary>
    public static byte[] TokenizerConfig() => File.ReadAllBytes(Path.Combine(TestPaths.Stories260k, "tokenizer_config.json"));

    /// <summary>llama2.c's 512-token vocabulary (<c>tok512.bin</c>).</summary>
    public static byte[] Llama2cTokenizer() => File.ReadAllBytes(TestPaths.Fixture("llama2c", "tok512.bin"));

    /// <summary>The int32 length fields of a llama2.c tokenizer: max_token_length, then each token's byte length.</summary>
    public static IReadOnlyList<LengthField> Llama2cTokenizerLengths(byte[] tokBin)
    {
        var fields = new List<LengthField> { new(0, 4) };
        int offset = 4;
        while (offset + 8 <= tokBin.Length)
        {
            fields.Add(new LengthField(offset + 4, 4));
            int length = BinaryPrimitives.ReadInt32LittleEndian(tokBin.AsSpan(offset + 4));
            if (length < 0 || length > tokBin.Length) break;
            offset += 8 + length;
        }
        return fields;
    }

    /// <summary>Header of the tiny llama2.c checkpoint: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 32 (unshared), context 8.</summary>
    public static readonly int[] Llama2cHeader = [8, 16, 1, 2, 1, -32, 8];

    /// <summary>A tiny llama2.c "legacy v0" checkpoint with seeded weights.</summary>
    public static byte[] Llama2cModel(int[]? header = null)
    {
        header ??= Llama2cHeader;
        int dim = header[0], hidden = header[1], layers = header[2], heads = header[3], kvHeads = header[4], vocab = Math.Abs(header[5]), seq = header[6];
        int headDim = dim / heads, kvDim = kvHeads * headDim;
        long floats = (long)vocab * dim + (long)layers * (dim + 2L * dim * dim + 2L * kvDim * dim + dim + 3L * hidden * dim) + dim + (long)seq * headDim;
        if (header[5] < 0) floats += (long)vocab * dim;
        var bytes = new byte[7 * 4 + floats * 4];
        for (int i = 0; i < 7; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), header[i]);
        var rng = new Random(5);
        for (long i = 0; i < floats; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(28 + i * 4)), (float)(rng.NextDouble() - 0.5));
        return bytes;
    }

    /// <summary>A LLaMA-2-style (SentencePiece BPE) tokenizer.json of the tok512 vocabulary, merges derived as HF's converter does.</summary>
    public static byte[] SentencePieceTokenizerJson()
    {
        var pieces = Llama2cTokenizerConverter.ReadPieces(Llama2cTokenizer(), 512, "tok512.bin");
        var ids = pieces.Select((piece, id) => (piece.Piece, id)).ToDictionary(p => p.Piece, p => p.id);
        var merges = pieces
            .Select((piece, id) => (piece, id))
            .Where(p => p.piece.Type == SentencePieceType.Normal && p.piece.Piece.Length > 1)
            .SelectMany(p => Enumerable.Range(1, p.piece.Piece.Length - 1).Select(cut => (Left: p.piece.Piece[..cut], Right: p.piece.Piece[cut..], p.id)))
            .Where(m => ids.ContainsKey(m.Left) && ids.ContainsKey(m.Right))
            .OrderBy(m => m.id).ThenBy(m => ids[m.Left]).ThenBy(m => ids[m.Right])
            .Select(m => (JsonNode)$"{m.Left} {m.Right}");
        var vocab = new JsonObject();
        foreach (var (piece, id) in ids) vocab[piece] = id;
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(AddedToken(0, "<unk>"), AddedToken(1, "<s>"), AddedToken(2, "</s>")),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = "\u2581" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "\u2581" }),
            },
            ["pre_tokenizer"] = null,
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["unk_token"] = "<unk>",
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray([.. merges]),
            },
        };
        return Encoding.UTF8.GetBytes(json.ToJsonString(JsonOptions));
    }

    /// <summary>A GPT-2-style byte-level BPE tokenizer.json: the 256 byte symbols and the first GPT-2 merges whose parts stay in the vocabulary.</summary>
    public static byte[] ByteLevelTokenizerJson()
    {
        var gpt2 = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(TestPaths.Fixture("tokenizers", "gpt2", "vocab.json")))!;
        var vocab = gpt2.Where(kv => kv.Value < 256).ToDictionary(kv => kv.Key, kv => kv.Value);
        var merges = new JsonArray();
        foreach (var line in File.ReadLines(TestPaths.Fixture("tokenizers", "gpt2", "merges.txt")).Skip(1).Take(2000))
        {
            var parts = line.Split(' ');
            if (parts.Length != 2 || !vocab.ContainsKey(parts[0]) || !vocab.ContainsKey(parts[1])) continue;
            string merged = parts[0] + parts[1];
            if (!vocab.ContainsKey(merged)) vocab[merged] = vocab.Count;
            merges.Add(line);
            if (vocab.Count >= 400) break;
        }
        var vocabJson = new JsonObject();
        foreach (var (token, id) in vocab.OrderBy(kv => kv.Value)) vocabJson[token] = id;
        vocabJson["<|endoftext|>"] = vocab.Count;
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = vocab.Count, ["content"] = "<|endoftext|>", ["special"] = true }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = null,
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["byte_fallback"] = false,
                ["vocab"] = vocabJson,
                ["merges"] = merges,
            },
        };
        return Encoding.UTF8.GetBytes(json.ToJsonString(JsonOptions));
    }

    private static readonly System.Text.Json.JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static JsonObject AddedToken(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };

    /// <summary>The byte offsets and widths of the varint lengths of length-delimited fields in a protobuf message (two levels deep).</summary>
    public static IReadOnlyList<(int Offset, int Size)> ProtobufLengths(byte[] message)
    {
        var found = new List<(int, int)>();
        Walk(message, 0, message.Length, depth: 0, found);
        return found;
    }

    private static void Walk(byte[] m, int start, int end, int depth, List<(int, int)> found)
    {
        int at = start;
        while (at < end)
        {
            if (!ReadVarint(m, ref at, end, out ulong tag)) return;
            switch ((int)(tag & 7))
            {
                case 0: if (!ReadVarint(m, ref at, end, out _)) return; break;
                case 1: at += 8; break;
                case 5: at += 4; break;
                case 2:
                    int lengthAt = at;
                    if (!ReadVarint(m, ref at, end, out ulong length) || length > (ulong)(end - at)) return;
                    found.Add((lengthAt, at - lengthAt));
                    if (depth == 0) Walk(m, at, at + (int)length, depth + 1, found);
                    at += (int)length;
                    break;
                default: return;
            }
        }
    }

    private static bool ReadVarint(byte[] m, ref int at, int end, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && at < end; shift += 7)
        {
            byte b = m[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }

    /// <summary>Encodes <paramref name="value"/> as a protobuf varint.</summary>
    public static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            if (value != 0) b |= 0x80;
            bytes.Add(b);
        } while (value != 0);
        return [.. bytes];
    }
}
