using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Families;

/// <summary>
/// Tiny random-weight models of each family with its structural features switched on (grouped-query attention,
/// biases, norms, soft-capping, sliding windows shorter than the test text, tied or untied head). The vocabulary is
/// stories260k's 512 SentencePiece pieces, so that llama.cpp has a tokenizer.
/// </summary>
public static class FamilyModels
{
    /// <summary>Sliding window of the families that have one: shorter than the judged text, so that it binds.</summary>
    public const int Window = 5;

    /// <summary>The config of family <paramref name="family"/> (a key of <see cref="Configs"/>).</summary>
    public static ModelConfig Config(string family, Action<JsonObject>? more = null)
    {
        var json = new JsonObject
        {
            ["hidden_size"] = 64, ["intermediate_size"] = 96, ["num_hidden_layers"] = 2,
            ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2, ["vocab_size"] = 512,
            ["max_position_embeddings"] = 256, ["rope_theta"] = 10000.0, ["rms_norm_eps"] = 1e-6,
            ["bos_token_id"] = 1, ["eos_token_id"] = 2, ["tie_word_embeddings"] = false,
        };
        Configs[family](json);
        more?.Invoke(json);
        return ModelConfig.FromJson(json, $"{family} config");
    }

    /// <summary>Per family, what its tiny config sets beyond the shared shape.</summary>
    public static readonly IReadOnlyDictionary<string, Action<JsonObject>> Configs = new Dictionary<string, Action<JsonObject>>
    {
        // Llama 3.2: llama3 RoPE scaling (an original context short enough that every kind of pair — kept,
        // blended, slowed — occurs at head_dim 16) and a tied head.
        ["llama3"] = j =>
        {
            Arch(j, "LlamaForCausalLM", "llama");
            j["rope_scaling"] = JsonNode.Parse("""{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":32}""");
            j["tie_word_embeddings"] = true;
        },
        // Qwen2.5 small: q/k/v biases and a tied head.
        ["qwen2"] = j => { Arch(j, "Qwen2ForCausalLM", "qwen2"); j["tie_word_embeddings"] = true; j["rope_theta"] = 1e6; },
        // Qwen3: head_dim (32) independent of hidden / heads (16), per-head q/k RMSNorm.
        ["qwen3"] = j => { Arch(j, "Qwen3ForCausalLM", "qwen3"); j["head_dim"] = 32; j["rope_theta"] = 1e6; },
        // Gemma 2: layer 0 slides, layer 1 is global; soft-caps small enough to bind on these scores.
        ["gemma2"] = j =>
        {
            Arch(j, "Gemma2ForCausalLM", "gemma2");
            j["head_dim"] = 16; j["query_pre_attn_scalar"] = 16; j["hidden_activation"] = "gelu_pytorch_tanh";
            j["attn_logit_softcapping"] = 4.0; j["final_logit_softcapping"] = 6.0; j["sliding_window"] = Window;
            j["tie_word_embeddings"] = true;
        },
        // Gemma 3 (text): layers 0-4 slide with local RoPE base 10000, layer 5 is global with base 1e6; q/k norms.
        ["gemma3_text"] = j =>
        {
            Arch(j, "Gemma3ForCausalLM", "gemma3_text");
            j["num_hidden_layers"] = 6; j["head_dim"] = 32; j["query_pre_attn_scalar"] = 32;
            j["hidden_activation"] = "gelu_pytorch_tanh"; j["sliding_window"] = Window; j["sliding_window_pattern"] = 6;
            j["rope_theta"] = 1e6; j["rope_local_base_freq"] = 10000.0; j["tie_word_embeddings"] = true;
        },
        // Phi-3: fused qkv_proj and gate_up_proj, untied head.
        ["phi3"] = j => Arch(j, "Phi3ForCausalLM", "phi3"),
        // Mistral: every layer slides.
        ["mistral"] = j => { Arch(j, "MistralForCausalLM", "mistral"); j["sliding_window"] = Window; },
    };

    /// <summary>
    /// A random model of <paramref name="family"/> whose weights are large enough for peaked next-token distributions
    /// (so that a wrong tensor shows), norms away from the identity and non-zero biases.
    /// </summary>
    public static CausalLanguageModel Random(string family, Action<JsonObject>? more = null)
    {
        var config = Config(family, more);
        var model = ModelLoader.CreateRandom(config, ScalarType.Float32, CPU, seed: 11);
        using var g = new Generator(12);
        double identity = config.NormWeightIsOffset ? 0 : 1;
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                p.copy_(name.EndsWith("norm.weight", StringComparison.Ordinal) ? identity + 0.2 * randn(p.shape, generator: g)
                    : randn(p.shape, generator: g) * (name.EndsWith(".bias", StringComparison.Ordinal) ? 0.5 : 0.25));
        return model;
    }

    /// <summary>Copies stories260k's tokenizer (whose 512 pieces the tiny configs' vocabulary is) into <paramref name="dir"/>.</summary>
    public static void CopyTokenizer(string dir)
    {
        foreach (var file in new[] { "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(TestPaths.Stories260k, file), Path.Combine(dir, file));
    }

    /// <summary>Saves <paramref name="model"/> as a model folder with a tokenizer, as the CLI and recipes load one.</summary>
    public static void SaveFolder(CausalLanguageModel model, string dir)
    {
        ModelLoader.Save(model, dir);
        CopyTokenizer(dir);
    }

    private static void Arch(JsonObject j, string architecture, string modelType)
    {
        j["architectures"] = new JsonArray(architecture);
        j["model_type"] = modelType;
    }
}
