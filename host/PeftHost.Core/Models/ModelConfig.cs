using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Sdk;

namespace PeftHost.Core.Models;

/// <summary>RoPE frequency scaling, as Hugging Face's <c>rope_scaling</c> describes it.</summary>
/// <param name="Type">"linear", "llama3" or "longrope".</param>
/// <param name="Factor">The scaling factor (longrope: max_position_embeddings / original_max_position_embeddings).</param>
/// <param name="LowFreqFactor">llama3 only.</param>
/// <param name="HighFreqFactor">llama3 only.</param>
/// <param name="OriginalMaxPositionEmbeddings">llama3 and longrope: the context the model was pre-trained with.</param>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192)
{
    /// <summary>longrope (Phi-3 128k): per rotated pair, the divisor of its frequency within the original context.</summary>
    public IReadOnlyList<double> ShortFactor { get; init; } = [];

    /// <summary>longrope: the divisors once a sequence is longer than <see cref="OriginalMaxPositionEmbeddings"/>.</summary>
    public IReadOnlyList<double> LongFactor { get; init; } = [];

    /// <summary>
    /// longrope: what cos and sin are multiplied by, so attention scores grow with the extended context: the config's
    /// attention_factor, else √(1 + ln factor / ln original) when factor &gt; 1, else 1 (transformers'
    /// _compute_longrope_parameters; llama.cpp's converter writes the same as rope.scaling.attn_factor).
    /// </summary>
    public double AttentionFactor { get; init; } = 1;
}

/// <summary>
/// A decoder-only model's <c>config.json</c>: LLaMA (2 and 3.x), Mistral, Qwen2/2.5, Qwen3, Gemma 2, Gemma 3 (text) and
/// Phi-3. One model implementation serves them all; the family only switches the options below on (Gemma's norms,
/// Qwen3's q/k norms, Phi-3's fused projections…). Anything the engine cannot honour is refused with the key at fault,
/// never silently ignored.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>The architectures the engine implements.</summary>
    public static readonly IReadOnlyDictionary<string, string> SupportedArchitectures = new Dictionary<string, string>
    {
        ["LlamaForCausalLM"] = "llama",
        ["MistralForCausalLM"] = "mistral",
        ["Qwen2ForCausalLM"] = "qwen2",
        ["Qwen3ForCausalLM"] = "qwen3",
        ["Gemma2ForCausalLM"] = "gemma2",
        ["Gemma3ForCausalLM"] = "gemma3_text",
        ["Phi3ForCausalLM"] = "phi3",
    };

    /// <summary>Feed-forward activations the engine implements (Hugging Face's names).</summary>
    public static readonly IReadOnlyList<string> SupportedActivations = ["silu", "gelu_pytorch_tanh"];

    /// <summary>
    /// Config keys of features no supported family has (mixture-of-experts layers, vision towers): a config that sets
    /// one describes a model the engine would run wrongly, so it is refused by name.
    /// </summary>
    private static readonly string[] UnsupportedFeatureKeys =
        ["num_experts", "num_local_experts", "n_routed_experts", "moe_intermediate_size", "vision_config", "audio_config"];

    /// <summary>e.g. LlamaForCausalLM.</summary>
    public string Architecture { get; init; } = "LlamaForCausalLM";
    /// <summary>The family, as Hugging Face's <c>model_type</c>: llama, mistral, qwen2, qwen3, gemma2, gemma3_text or phi3.</summary>
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
    /// <summary>Sliding-window attention span of the layers in <see cref="SlidingLayers"/>, or null for full attention everywhere.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Per layer, whether it attends within <see cref="SlidingWindow"/> only (empty when no layer does).</summary>
    public IReadOnlyList<bool> SlidingLayers { get; init; } = [];
    /// <summary>The feed-forward activation: silu (SwiGLU) or gelu_pytorch_tanh (Gemma's GeGLU).</summary>
    public string HiddenActivation { get; init; } = "silu";
    /// <summary>Gemma: norms scale by (1 + weight), so a weight of 0 is the identity.</summary>
    public bool NormWeightIsOffset { get; init; }
    /// <summary>Gemma: token embeddings are multiplied by √hidden_size.</summary>
    public bool ScaleEmbeddings { get; init; }
    /// <summary>
    /// Gemma 3: the √hidden scale belongs to the word-embedding lookup (transformers' Gemma3TextScaledWordEmbedding),
    /// so embeddings handed to the model whole — prompt tuning's virtual tokens — enter unscaled; Gemma 2 scales the
    /// model's whole input, virtual tokens included.
    /// </summary>
    public bool EmbeddingScaleInLookup { get; init; }
    /// <summary>Gemma: attention and feed-forward outputs are normed too (post_attention_layernorm, pre/post_feedforward_layernorm).</summary>
    public bool SandwichNorms { get; init; }
    /// <summary>Qwen3, Gemma 3: per-head RMSNorm of queries and keys (q_norm, k_norm) before RoPE.</summary>
    public bool QkNorm { get; init; }
    /// <summary>Phi-3: q/k/v in one qkv_proj and gate/up in one gate_up_proj.</summary>
    public bool FusedProjections { get; init; }
    /// <summary>Gemma: attention scores are scaled by query_pre_attn_scalar^-½ instead of head_dim^-½.</summary>
    public double? QueryPreAttnScalar { get; init; }
    /// <summary>Gemma 2: attention scores become cap·tanh(score/cap).</summary>
    public double? AttnLogitSoftcapping { get; init; }
    /// <summary>Gemma 2: output logits become cap·tanh(logit/cap).</summary>
    public double? FinalLogitSoftcapping { get; init; }
    /// <summary>Gemma 3: the RoPE base of sliding-window layers (rope_local_base_freq; unscaled), or null when all layers share <see cref="RopeTheta"/>.</summary>
    public double? LocalRopeTheta { get; init; }
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

    /// <summary>Whether layer <paramref name="layer"/> attends within the sliding window only.</summary>
    public bool IsSlidingLayer(int layer) => SlidingWindow is not null && layer < SlidingLayers.Count && SlidingLayers[layer];

    /// <summary>The factor Gemma multiplies input embeddings by (√hidden_size; 1 where <see cref="ScaleEmbeddings"/> is off).</summary>
    public double EmbeddingScale => ScaleEmbeddings ? Math.Sqrt(HiddenSize) : 1;

    /// <summary>The factor attention scores are multiplied by before the softmax.</summary>
    public double AttentionScale => 1 / Math.Sqrt(QueryPreAttnScalar ?? HeadDim);

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
        string family = SupportedArchitectures[architecture];
        string modelType = r.String("model_type") ?? family;
        foreach (var key in UnsupportedFeatureKeys)
            if (json[key] is JsonNode n && !(n is JsonValue v && v.TryGetValue<int>(out int count) && count == 0))
                throw r.Error(key, $"is not supported ({architecture} models with {key} are not implemented)");
        bool gemma = family is "gemma2" or "gemma3_text";
        // Gemma's configs name the activation hidden_activation (and carry a legacy hidden_act beside it).
        string actKey = json["hidden_activation"] is not null ? "hidden_activation" : "hidden_act";
        string act = r.String(actKey) ?? (gemma ? "gelu_pytorch_tanh" : "silu");
        if (!SupportedActivations.Contains(act))
            throw r.Error(actKey, $"'{act}' is not supported (supported: {string.Join(", ", SupportedActivations)})");
        if (r.Double("partial_rotary_factor") is double partial && partial != 1)
            throw r.Error("partial_rotary_factor", $"{partial} is not supported (RoPE over the whole head only)");

        int hidden = r.PositiveInt("hidden_size");
        int heads = r.PositiveInt("num_attention_heads");
        int kvHeads = r.OptionalPositiveInt("num_key_value_heads") ?? heads;
        if (heads % kvHeads != 0) throw r.Error("num_key_value_heads", $"{kvHeads} does not divide num_attention_heads {heads}");
        int? headDim = r.OptionalPositiveInt("head_dim");
        if (headDim is null && hidden % heads != 0) throw r.Error("num_attention_heads", $"{heads} does not divide hidden_size {hidden}");
        int layers = r.PositiveInt("num_hidden_layers");

        bool qwen2Biases = family == "qwen2";
        bool attentionBias = r.Bool("attention_bias") ?? false;
        var (window, sliding) = SlidingAttention(r, family, layers);
        int maxPositions = r.OptionalPositiveInt("max_position_embeddings") ?? 2048;

        var config = new ModelConfig
        {
            Architecture = architecture,
            ModelType = modelType,
            VocabSize = r.PositiveInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = r.PositiveInt("intermediate_size"),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim ?? hidden / heads,
            MaxPositionEmbeddings = maxPositions,
            RmsNormEps = r.OptionalPositiveDouble("rms_norm_eps") ?? 1e-6,
            RopeTheta = r.OptionalPositiveDouble("rope_theta") ?? 10000,
            RopeScaling = r.RopeScaling(headDim ?? hidden / heads, maxPositions),
            // Gemma's config classes tie the head unless told otherwise; the others untie it.
            TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? gemma,
            QkvBias = qwen2Biases || attentionBias,
            OutputBias = !qwen2Biases && attentionBias,
            MlpBias = r.Bool("mlp_bias") ?? false,
            SlidingWindow = window,
            SlidingLayers = sliding,
            HiddenActivation = act,
            NormWeightIsOffset = gemma,
            ScaleEmbeddings = gemma,
            EmbeddingScaleInLookup = family == "gemma3_text",
            SandwichNorms = gemma,
            QkNorm = family is "qwen3" or "gemma3_text",
            FusedProjections = family == "phi3",
            QueryPreAttnScalar = gemma ? r.OptionalPositiveDouble("query_pre_attn_scalar") ?? headDim ?? hidden / heads : null,
            AttnLogitSoftcapping = gemma ? r.OptionalPositiveDouble("attn_logit_softcapping") : null,
            FinalLogitSoftcapping = gemma ? r.OptionalPositiveDouble("final_logit_softcapping") : null,
            LocalRopeTheta = family == "gemma3_text" ? r.OptionalPositiveDouble("rope_local_base_freq") ?? 10000 : null,
            BosTokenId = r.OptionalInt("bos_token_id"),
            EosTokenIds = r.IntOrIntList("eos_token_id"),
            PadTokenId = r.OptionalInt("pad_token_id"),
            TorchDtype = r.String("torch_dtype") ?? r.String("dtype"),
            Raw = (JsonObject)json.DeepClone(),
        };
        return config;
    }

    /// <summary>
    /// The sliding window and which layers use it, as each family's Hugging Face modeling file decides: an explicit
    /// <c>layer_types</c> list wins; otherwise Mistral and Phi-3 slide in every layer, Qwen2/3 (with
    /// use_sliding_window) from max_window_layers on, Gemma 2 in every other layer from the first, Gemma 3 in all but
    /// every sliding_window_pattern-th layer.
    /// </summary>
    private static (int? Window, IReadOnlyList<bool> Sliding) SlidingAttention(ConfigReader r, string family, int layers)
    {
        bool qwen = family is "qwen2" or "qwen3";
        if (qwen && !(r.Bool("use_sliding_window") ?? false)) return (null, []);
        if (family == "llama") return (null, []);
        // Gemma's config classes default the window to 4096; Mistral's and Phi-3's to none.
        int? window = r.OptionalPositiveInt("sliding_window") ?? (family is "gemma2" or "gemma3_text" ? 4096 : null);
        if (window is null) return (null, []);
        if (r.LayerTypes(layers) is { } types) return (window, types);
        int pattern = family == "gemma3_text" ? r.OptionalPositiveInt("sliding_window_pattern") ?? 6 : 0;
        int firstSliding = qwen ? r.OptionalInt("max_window_layers") ?? 28 : 0;
        var sliding = Enumerable.Range(0, layers).Select(i => family switch
        {
            "gemma2" => i % 2 == 0,
            "gemma3_text" => (i + 1) % pattern != 0,
            _ when qwen => i >= firstSliding,
            _ => true,
        }).ToArray();
        return (window, sliding);
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
        o[Raw["hidden_activation"] is not null ? "hidden_activation" : "hidden_act"] = HiddenActivation;
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

        /// <summary><c>layer_types</c> ("sliding_attention" / "full_attention" per layer) as sliding flags, or null when absent.</summary>
        public IReadOnlyList<bool>? LayerTypes(int layers)
        {
            if (json["layer_types"] is not JsonNode node) return null;
            if (node is not JsonArray list || list.Count != layers)
                throw Error("layer_types", $"must list one type per layer ({layers}), got {node.ToJsonString()}");
            return list.Select(n => n is JsonValue v && v.TryGetValue<string>(out var t) ? t switch
            {
                "sliding_attention" => true,
                "full_attention" => false,
                _ => throw Error("layer_types", $"'{t}' is not supported (supported: sliding_attention, full_attention)"),
            } : throw Error("layer_types", $"must be a list of strings, got {node.ToJsonString()}")).ToArray();
        }

        public RopeScaling? RopeScaling(int headDim, int maxPositions)
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
                // "su" is the name Phi-3's first 128k configs used; transformers reads it as longrope.
                "longrope" or "su" => LongRope(rs, headDim, maxPositions),
                _ => throw Error("rope_scaling", $"type '{type}' is not supported (supported: linear, llama3, longrope)"),
            };
        }

        /// <summary>
        /// Phi-3's LongRoPE. As transformers does: the original context is the config's top-level
        /// original_max_position_embeddings (Phi-3 puts it there), else rope_scaling's, else max_position_embeddings; the
        /// factor is max_position_embeddings over it whenever it is known.
        /// </summary>
        private RopeScaling LongRope(JsonObject rs, int headDim, int maxPositions)
        {
            double original = Num(json["original_max_position_embeddings"]) ?? Positive(rs, "original_max_position_embeddings") ?? maxPositions;
            if (!(original >= 1 && original <= int.MaxValue))
                throw Error("original_max_position_embeddings", $"must be a positive integer, got {original}");
            double factor = maxPositions / original; // maxPositions: the config's value, already checked
            double attention = Positive(rs, "attention_factor")
                ?? (factor > 1 ? Math.Sqrt(1 + Math.Log(factor) / Math.Log(original)) : 1.0);
            return new RopeScaling("longrope", factor, OriginalMaxPositionEmbeddings: (int)original)
            {
                ShortFactor = Factors(rs, "short_factor", headDim),
                LongFactor = Factors(rs, "long_factor", headDim),
                AttentionFactor = attention,
            };
        }

        /// <summary>One positive divisor per rotated pair (head_dim / 2 of them).</summary>
        private double[] Factors(JsonObject rs, string key, int headDim)
        {
            if (rs[key] is not JsonArray list)
                throw Error("rope_scaling", $"longrope needs '{key}', a list of {headDim / 2} numbers (one per rotated pair)");
            if (list.Count != headDim / 2)
                throw Error("rope_scaling", $"'{key}' has {list.Count} values; head_dim {headDim} rotates {headDim / 2} pairs");
            return list.Select((n, i) => Num(n) is double d && double.IsFinite(d) && d > 0 ? d
                : throw Error("rope_scaling", $"'{key}'[{i}] must be a positive number, got {n?.ToJsonString() ?? "null"}")).ToArray();
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
