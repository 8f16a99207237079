using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Plugins;

/// <summary>A random 2-layer LLaMA small enough for many training steps in a test.</summary>
internal static class TinyModel
{
    public static CausalLanguageModel Create(long seed = 0)
    {
        var config = ModelConfig.FromJson(new JsonObject
        {
            ["model_type"] = "llama",
            ["hidden_size"] = 32,
            ["num_hidden_layers"] = 2,
            ["num_attention_heads"] = 4,
            ["num_key_value_heads"] = 2,
            ["intermediate_size"] = 64,
            ["vocab_size"] = 64,
        });
        var model = ModelLoader.CreateRandom(config, seed: seed);
        foreach (var p in model.parameters()) p.requires_grad = false; // only adapters train
        return model;
    }

    /// <summary>A fixed batch of token ids [2, 12].</summary>
    public static Tensor Batch(long seed = 1)
    {
        var generator = new Generator((ulong)seed);
        return randint(0, 64, [2, 12], dtype: ScalarType.Int64, generator: generator);
    }
}
