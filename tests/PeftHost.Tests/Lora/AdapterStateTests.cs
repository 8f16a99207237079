using PeftHost.Plugins.Lora;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class AdapterStateTests
{
    private const string QV = """{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj"]}""";

    [Fact]
    public void StateKeysAndShapesFollowPeftsFormat()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject(QV);
        var state = adapter.GetState();
        var expected = new Dictionary<string, long[]>();
        foreach (int i in new[] { 0, 1 })
        {
            expected[$"base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight"] = [4, 32];
            expected[$"base_model.model.model.layers.{i}.self_attn.q_proj.lora_B.weight"] = [32, 4];
            expected[$"base_model.model.model.layers.{i}.self_attn.v_proj.lora_A.weight"] = [4, 32];
            expected[$"base_model.model.model.layers.{i}.self_attn.v_proj.lora_B.weight"] = [16, 4];
        }
        Assert.Equal(expected.Keys.Order(), state.Keys.Order());
        foreach (var (key, shape) in expected) Assert.Equal(shape, state[key].shape);
        Assert.Equal(state.Keys, adapter.NamedParameters().Select(p => p.Key));
        Assert.DoesNotContain(state.Keys, k => k.Contains(".default."));
    }

    [Fact]
    public void DoraModulesToSaveAndBiasKeysAreNamedAsPeftSavesThem()
    {
        const string biased = """
            {"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64, "tie_word_embeddings": false, "attention_bias": true}
            """;
        using var f = new LoraFixture(configJson: biased);
        var adapter = f.Inject("""{"r": 2, "targetModules": ["q_proj"], "useDora": true, "modulesToSave": ["lm_head"], "bias": "lora_only"}""");
        var keys = adapter.GetState().Keys.ToList();
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", keys);
        Assert.Contains("base_model.model.lm_head.weight", keys);
        Assert.Contains("base_model.model.model.layers.1.self_attn.q_proj.base_layer.bias", keys);
        Assert.DoesNotContain("base_model.model.model.layers.1.self_attn.k_proj.bias", keys);
        Assert.Equal([32L], adapter.GetState()["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"].shape);
        Assert.Equal([64L, 32L], adapter.GetState()["base_model.model.lm_head.weight"].shape);
        Assert.All(adapter.NamedParameters(), p => Assert.True(p.Parameter.requires_grad, p.Key));

        using var g = new LoraFixture(configJson: biased);
        var all = g.Inject("""{"r": 2, "targetModules": ["q_proj"], "bias": "all"}""");
        var biasKeys = all.GetState().Keys.Where(k => k.EndsWith("bias")).ToList();
        Assert.Equal(8, biasKeys.Count); // q (wrapped), k, v, o in each of 2 layers
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias", biasKeys);
        Assert.Contains("base_model.model.model.layers.0.self_attn.k_proj.bias", biasKeys);
        Assert.Contains("base_model.model.model.layers.1.self_attn.o_proj.bias", biasKeys);
    }

    [Fact]
    public void LoadStateRoundTripPreservesOutputs()
    {
        using var source = new LoraFixture();
        var trained = source.Inject(QV);
        LoraFixture.Randomize(trained, 7, alsoA: true);
        var expected = source.Logits();

        using var target = new LoraFixture();
        var fresh = target.Inject(QV);
        Assert.True(LoraFixture.MaxDiff(target.Logits(), expected) > 1e-4);
        fresh.LoadState(trained.GetState());
        Assert.True(LoraFixture.Exact(target.Logits(), expected));
    }

    [Fact]
    public void AStateDictWithPeftsKeyNamesLoads()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"r": 2, "targetModules": ["k_proj"]}""");
        // As Python PEFT writes adapter_model.safetensors for this config: adapter name stripped.
        var generator = new Generator(11);
        var peftState = new Dictionary<string, Tensor>
        {
            ["base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"] = randn([2, 32], generator: generator),
            ["base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"] = randn([16, 2], generator: generator),
            ["base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight"] = randn([2, 32], generator: generator),
            ["base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight"] = randn([16, 2], generator: generator),
        };
        adapter.LoadState(peftState);
        var layer = adapter.Layers.Single(l => l.Path == "model.layers.1.self_attn.k_proj").Layer;
        Assert.True(LoraFixture.Exact(layer.LoraB("default"), peftState["base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight"]));
        Assert.True(LoraFixture.Exact(layer.LoraA("default"), peftState["base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight"]));

        // Float16 tensors (as saved from a half-precision run) are converted.
        var half = peftState.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float16));
        adapter.LoadState(half);
        Assert.Equal(ScalarType.Float32, layer.LoraA("default").dtype);
    }

    [Fact]
    public void BadShapeOrMissingKeyIsAnErrorNamingTheKeyAndBothShapes()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject(QV);
        var state = adapter.GetState().ToDictionary(kv => kv.Key, kv => kv.Value);
        const string key = "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight";
        state[key] = zeros(8, 32);
        var e = Assert.Throws<InvalidDataException>(() => adapter.LoadState(state));
        Assert.Contains($"tensor '{key}' has shape [8, 32] but adapter 'default' expects [4, 32]", e.Message);

        state.Remove(key);
        e = Assert.Throws<InvalidDataException>(() => adapter.LoadState(state));
        Assert.Contains($"missing tensor '{key}' (expected shape [4, 32])", e.Message);

        state[key] = zeros(4, 32);
        state["base_model.model.lm_head.weight"] = zeros(64, 32);
        adapter.LoadState(state);
        Assert.Contains(f.Warnings, w => w.Contains("base_model.model.lm_head.weight"));
    }
}
