using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using static TorchSharp.torch;

namespace PeftHost.Tests.Support;

/// <summary>Small random configs for fast tests.</summary>
public static class TinyModels
{
    /// <summary>A tiny LLaMA config; override keys with <paramref name="overrides"/>.</summary>
    public static ModelConfig Config(Action<JsonObject>? overrides = null)
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = 32,
            ["intermediate_size"] = 64,
            ["num_hidden_layers"] = 2,
            ["num_attention_heads"] = 4,
            ["num_key_value_heads"] = 2,
            ["vocab_size"] = 64,
            ["max_position_embeddings"] = 128,
            ["rms_norm_eps"] = 1e-5,
            ["tie_word_embeddings"] = false,
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
        };
        overrides?.Invoke(json);
        return ModelConfig.FromJson(json, "tiny config");
    }

    /// <summary>A tiny random model.</summary>
    public static CausalLanguageModel Create(Action<JsonObject>? overrides = null, long seed = 1) =>
        ModelLoader.CreateRandom(Config(overrides), ScalarType.Float32, CPU, seed);

    /// <summary>Random token ids [batch, length] in [3, vocab).</summary>
    public static Tensor Tokens(long batch, long length, long vocab = 64, long seed = 7)
    {
        using var g = new Generator((ulong)seed);
        return randint(3, vocab, [batch, length], ScalarType.Int64, generator: g);
    }
}
