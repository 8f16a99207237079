using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Sdk;

namespace PeftHost.Core.Models;

/// <summary>RoPE frequency scaling, as Hugging Face's <c>rope_scaling</c> describes it.</summary>
/// <param name="Type">"linear" or "llama3".</param>
/// <param name="Factor">The scaling factor.</param>
/// <param name="LowFreqFactor">llama3 only.</param>
/// <param name="HighFreqFactor">llama3 only.</param>
/// <param name="OriginalMaxPositionEmbeddings">llama3 only.</param>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// A decoder-only LLaMA-family model's <c>config.json</c> (LLaMA, Mistral, Qwen2). Anything the
/// engine cannot honour is refused with the key at fault, never silently ignored.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>The architectures the engine implements.</summary>
    public static readonly IReadOnlyDictionary<string, string> SupportedArchitectures = new Dictionary<string, string>
    {
        ["LlamaForCausalLM"] = "llama",
        ["MistralForCausalLM"] = "mistral",
        ["Qwen2ForCausalLM"] = "qwen2",
    };

    /// <summary>e.g. LlamaForCausalLM.</summary>
    public string Architecture { get; init; } = "LlamaForCausalLM";
    /// <summary>llama, mistral or qwen2.</summary>
    public string ModelType { get; init; } = "llama";
    /// <summary>Vocabulary size.</summary>
    public int VocabSize { get; init; }
    /// <summary>Model width.</summary>
    public int HiddenSize { get; init; }
    /// <summary>SwiGLU hidden width.</summary>
    public int IntermediateSize { get; init; }
    /// <summary>Decoder layers.</summary>
    public int NumHiddenLayers { get; init; }
    /// <summary>Query heads.</summary>
    public int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads (grouped-query attention when fewer than query heads).</summary>
    public int NumKeyValueHeads { get; init; }
    /// <summary>Per-head width; hidden/heads unless the config gives <c>head_dim</c>.</summary>
    public int HeadDim { get; init; }
    /// <summary>Longest sequence the model was trained for.</summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;
    /// <summary>RMSNorm epsilon.</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>RoPE base.</summary>
    public double RopeTheta { get; init; } = 10000;
    /// <summary>RoPE scaling, if any.</summary>
    public RopeScaling? RopeScaling { get; init; }
    /// <summary>lm_head shares the embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Biases on q/k/v (and o for LLaMA's attention_bias).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Bias on o_proj.</summary>
    public bool OutputBias { get; init; }
    /// <summary>Biases on the MLP projections.</summary>
    public bool MlpBias { get; init; }
    /// <summary>Sliding-window attention span (Mistral), or null for full attention.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Beginning-of-sequence id.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>End-of-sequence ids (some configs list several).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary>Padding id.</summary>
    public int? PadTokenId { get; init; }
    /// <summary>The dtype the checkpoint was saved in (<c>torch_dtype</c>).</summary>
    public string? TorchDtype { get; init; }
    /// <summary>The original JSON, kept so that saving preserves keys the engine does not use.</summary>
    public JsonObject Raw { get; init; } = new();

    /// <summary>Key/value projection width.</summary>
    public int KvDim => NumKeyValueHeads * HeadDim;

    /// <summary>Reads and validates <c>config.json</c>.</summary>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "file not found");
        JsonNode? node;
        try { node = IO.StrictJson.ParseNode(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new ModelFormatException(path, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}"); }
        if (node is not JsonObject obj) throw new ModelFormatException(path, "expected a JSON object");
        return FromJson(obj, path);
    }

    /// <summary>Validates a parsed config; <paramref name="origin"/> names it in errors.</summary>
    public static ModelConfig FromJson(JsonObject json, string origin = "config.json")
    {
        var r = new ConfigReader(json, origin);
        string architecture = r.Architecture();
        string modelType = r.String("model_type") ?? SupportedArchitectures[architecture];
        string act = r.String("hidden_act") ?? "silu";
        if (act != "silu") throw r.Error("hidden_act", $"'{act}' is not supported (only silu)");

        int hidden = r.PositiveInt("hidden_size");
        int heads = r.PositiveInt("num_attention_heads");
        int kvHeads = r.OptionalPositiveInt("num_key_value_heads") ?? heads;
        if (heads % kvHeads != 0) throw r.Error("num_key_value_heads", $"{kvHeads} does not divide num_attention_heads {heads}");
        int? headDim = r.OptionalPositiveInt("head_dim");
        if (headDim is null && hidden % heads != 0) throw r.Error("num_attention_heads", $"{heads} does not divide hidden_size {hidden}");

        bool isQwen = modelType == "qwen2";
        bool attentionBias = r.Bool("attention_bias") ?? false;
        int? window = null;
        if (modelType == "mistral" || (isQwen && (r.Bool("use_sliding_window") ?? false)))
            window = r.OptionalPositiveInt("sliding_window");

        var config = new ModelConfig
        {
            Architecture = architecture,
            ModelType = modelType,
            VocabSize = r.PositiveInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = r.PositiveInt("intermediate_size"),
            NumHiddenLayers = r.PositiveInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim ?? hidden / heads,
            MaxPositionEmbeddings = r.OptionalPositiveInt("max_position_embeddings") ?? 2048,
            RmsNormEps = r.OptionalPositiveDouble("rms_norm_eps") ?? 1e-6,
            RopeTheta = r.OptionalPositiveDouble("rope_theta") ?? 10000,
            RopeScaling = r.RopeScaling(),
            TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? false,
            QkvBias = isQwen || attentionBias,
            OutputBias = !isQwen && attentionBias,
            MlpBias = r.Bool("mlp_bias") ?? false,
            SlidingWindow = window,
            BosTokenId = r.OptionalInt("bos_token_id"),
            EosTokenIds = r.IntOrIntList("eos_token_id"),
            PadTokenId = r.OptionalInt("pad_token_id"),
            TorchDtype = r.String("torch_dtype") ?? r.String("dtype"),
            Raw = (JsonObject)json.DeepClone(),
        };
        return config;
    }

    /// <summary>The config as <c>config.json</c>: the original keys, with the engine's values written over them.</summary>
    public JsonObject ToJson(string? torchDtype = null)
    {
        var o = (JsonObject)Raw.DeepClone();
        o["architectures"] = new JsonArray(Architecture);
        o["model_type"] = ModelType;
        o["vocab_size"] = VocabSize;
        o["hidden_size"] = HiddenSize;
        o["intermediate_size"] = IntermediateSize;
        o["num_hidden_layers"] = NumHiddenLayers;
        o["num_attention_heads"] = NumAttentionHeads;
        o["num_key_value_heads"] = NumKeyValueHeads;
        o["head_dim"] = HeadDim;
        o["max_position_embeddings"] = MaxPositionEmbeddings;
        o["rms_norm_eps"] = RmsNormEps;
        o["rope_theta"] = RopeTheta;
        o["tie_word_embeddings"] = TieWordEmbeddings;
        o["hidden_act"] = "silu";
        if (ModelType == "llama") o["attention_bias"] = QkvBias;
        if (BosTokenId is int bos) o["bos_token_id"] = bos;
        if (EosTokenIds.Count == 1) o["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Count > 1) o["eos_token_id"] = new JsonArray(EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (torchDtype is not null) o["torch_dtype"] = torchDtype;
        if (RopeScaling is null) o.Remove("rope_scaling");
        return o;
    }

    /// <summary>Reads config keys with errors that name the file and key.</summary>
    private sealed class ConfigReader(JsonObject json, string origin)
    {
        public ModelFormatException Error(string key, string message) => new(origin, $"'{key}': {message}");

        public string Architecture()
        {
            var archs = json["architectures"] as JsonArray;
            string? arch = archs is { Count: > 0 }
                ? archs[0] is JsonValue first && first.TryGetValue<string>(out var name) ? name
                    : throw Error("architectures", $"must be a list of class names, got {archs.ToJsonString()}")
                : null;
            if (arch is null)
            {
                // Configs without "architectures" (e.g. hand-written ones) fall back on model_type.
                string? type = String("model_type");
                arch = SupportedArchitectures.FirstOrDefault(kv => kv.Value == type).Key;
                if (arch is null) throw Error("architectures", "missing, and model_type does not name a supported model");
            }
            if (!SupportedArchitectures.ContainsKey(arch))
                throw Error("architectures", $"'{arch}' is not supported (supported: {string.Join(", ", SupportedArchitectures.Keys)})");
            return arch;
        }

        public string? String(string key) => Get(key, n => n.GetValue<string>(), "a string");
        public bool? Bool(string key) => Get(key, n => n.GetValue<bool>(), "true or false");
        public double? Double(string key) => Get(key, JsonNumbers.ToDouble, "a number");
        public int? OptionalInt(string key) => Get(key, ReadInt, "an integer");

        /// <summary>A finite number above 0 (an epsilon, a base, a factor: 0 or less divides by zero or inverts the model), or null when absent.</summary>
        public double? OptionalPositiveDouble(string key)
        {
            double? v = Double(key);
            if (v is { } d && !(double.IsFinite(d) && d > 0)) throw Error(key, $"must be a positive number, got {d}");
            return v;
        }

        public int? OptionalPositiveInt(string key)
        {
            int? v = OptionalInt(key);
            if (v is <= 0) throw Error(key, $"must be positive, got {v}");
            return v;
        }

        public int PositiveInt(string key) => OptionalPositiveInt(key) ?? throw Error(key, "missing");

        public IReadOnlyList<int> IntOrIntList(string key)
        {
            var node = json[key];
            if (node is null) return [];
            if (node is JsonArray a) return a.Select(n => ReadIntOrThrow(n, key)).ToArray();
            return [ReadIntOrThrow(node, key)];
        }

        public RopeScaling? RopeScaling()
        {
            if (json["rope_scaling"] is not JsonObject rs) return null;
            var typeNode = rs["rope_type"] ?? rs["type"];
            string? type = typeNode is null ? null
                : typeNode is JsonValue v && v.TryGetValue<string>(out var t) ? t
                : throw Error("rope_scaling", $"its type must be a string, got {typeNode.ToJsonString()}");
            double factor = Positive(rs, "factor") ?? 1.0;
            return type switch
            {
                null or "default" => null,
                "linear" => new RopeScaling("linear", factor),
                "llama3" => new RopeScaling("llama3", factor,
                    Positive(rs, "low_freq_factor") ?? 1.0,
                    Positive(rs, "high_freq_factor") ?? 4.0,
                    (int)Math.Min(Positive(rs, "original_max_position_embeddings") ?? 8192, int.MaxValue)),
                _ => throw Error("rope_scaling", $"type '{type}' is not supported (supported: linear, llama3)"),
            };
        }

        /// <summary>A rope_scaling entry that must be a finite number above 0, or null when absent.</summary>
        private double? Positive(JsonObject rs, string key)
        {
            double? v = Num(rs[key]);
            if (v is { } d && !(double.IsFinite(d) && d > 0)) throw Error("rope_scaling", $"'{key}' must be a positive number, got {d}");
            return v;
        }

        private double? Num(JsonNode? n)
        {
            if (n is null) return null;
            try { return JsonNumbers.ToDouble(n); }
            catch (Exception e) when (e is InvalidOperationException or FormatException) { throw Error("rope_scaling", $"{n.ToJsonString()} is not a number"); }
        }

        private int ReadIntOrThrow(JsonNode? n, string key) =>
            n is null ? throw Error(key, "must be an integer") : Get(n, key, ReadInt, "an integer");

        private static int ReadInt(JsonNode n)
        {
            long v = JsonNumbers.ToInt64(n);
            if (v > int.MaxValue || v < int.MinValue) throw new FormatException();
            return (int)v;
        }

        private T? Get<T>(string key, Func<JsonNode, T> read, string expected) where T : struct
        {
            var node = json[key];
            return node is null ? null : Get(node, key, read, expected);
        }

        private string? Get(string key, Func<JsonNode, string> read, string expected)
        {
            var node = json[key];
            if (node is null) return null;
            try { return read(node); }
            catch (Exception e) when (e is InvalidOperationException or FormatException) { throw Error(key, $"must be {expected}, got {node.ToJsonString()}"); }
        }

        private T Get<T>(JsonNode node, string key, Func<JsonNode, T> read, string expected)
        {
            try { return read(node); }
            catch (Exception e) when (e is InvalidOperationException or FormatException) { throw Error(key, $"must be {expected}, got {node.ToJsonString()}"); }
        }
    }
}
