using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Lora;

/// <summary>A tiny random LLaMA with its surface, and helpers for LoRA tests.</summary>
internal sealed class LoraFixture : IDisposable
{
    public const string TinyConfigJson = """
        {"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64, "max_position_embeddings": 64,
         "tie_word_embeddings": false}
        """;

    public LoraFixture(long seed = 0, string? configJson = null)
    {
        var json = JsonNode.Parse(configJson ?? TinyConfigJson)!.AsObject();
        Model = ModelLoader.CreateRandom(ModelConfig.FromJson(json), seed: seed);
        Surface = new ModelSurface(Model, warn: Warnings.Add);
        Ids = torch.tensor(new long[] { 1, 5, 9, 13, 2, 60, 7, 33, 21, 4, 40, 11, 3, 8, 63, 0, 17, 29, 30, 45 }).reshape(4, 5);
    }

    public LoraMethod Method { get; } = new();

    public CausalLanguageModel Model { get; }

    public ModelSurface Surface { get; }

    public List<string> Warnings { get; } = [];

    public AdapterRouting Routing => Model.Hooks.Routing;

    /// <summary>Token ids [4, 5].</summary>
    public Tensor Ids { get; }

    public LoraConfig Config(string json) => (LoraConfig)Method.BindConfig(ConfigSource.FromOptions(JsonNode.Parse(json)!.AsObject()));

    public LoraAdapter Inject(string json, string name = "default", bool activate = true)
    {
        var adapter = (LoraAdapter)Method.Inject(Surface, name, Config(json));
        if (activate) Routing.ActiveAdapters = [name];
        return adapter;
    }

    public Tensor Logits(Tensor? ids = null)
    {
        using var _ = no_grad();
        return Model.Forward(ids ?? Ids);
    }

    /// <summary>Logits with every adapter disabled.</summary>
    public Tensor BaseLogits()
    {
        Routing.AdaptersDisabled = true;
        try { return Logits(); }
        finally { Routing.AdaptersDisabled = false; }
    }

    /// <summary>Fills every B (and A) of <paramref name="adapter"/> with seeded random values.</summary>
    public static void Randomize(LoraAdapter adapter, long seed = 1, bool alsoA = false)
    {
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (_, layer) in adapter.Layers)
        {
            layer.LoraB(adapter.Name).normal_(0, 0.1, generator);
            if (alsoA) layer.LoraA(adapter.Name).normal_(0, 0.1, generator);
        }
    }

    /// <summary>Weights of every linear layer (the base layer inside LoRA layers), cloned, keyed by module path.</summary>
    public Dictionary<string, Tensor> LinearWeights()
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (path, module) in Surface.NamedModules())
        {
            if (module is LoraLayer l) result[path] = ((TorchSharp.Modules.Linear)l.BaseLayer).weight!.detach().clone();
            else if (module is TorchSharp.Modules.Linear lin && !path.Contains(".lora_") && !path.EndsWith(".base_layer"))
                result[path] = lin.weight!.detach().clone();
        }
        return result;
    }

    public static bool Exact(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().ToDouble();

    public void Dispose()
    {
        Ids.Dispose();
        Model.Dispose();
    }
}
