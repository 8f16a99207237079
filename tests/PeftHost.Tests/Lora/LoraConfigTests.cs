using System.Text.Json.Nodes;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class LoraConfigTests
{
    private static readonly LoraMethod Method = new();

    private static LoraConfig FromOptions(string json) => (LoraConfig)Method.BindConfig(ConfigSource.FromOptions(JsonNode.Parse(json)!.AsObject()));

    [Fact]
    public void MethodIdentity()
    {
        Assert.Equal("lora", Method.Name);
        Assert.Equal("LORA", Method.PeftType);
        Assert.False(string.IsNullOrWhiteSpace(Method.Description));
    }

    [Fact]
    public void AdapterConfigJsonCarriesPeftsKeysSortedWithPeftsDefaults()
    {
        var json = FromOptions("""{"targetModules": ["q_proj", "v_proj"]}""").ToJson();
        string[] expected =
        [
            "alora_invocation_tokens", "alpha_pattern", "arrow_config", "auto_mapping", "base_model_name_or_path", "bias", "corda_config",
            "ensure_weight_tying", "eva_config", "exclude_modules", "fan_in_fan_out", "inference_mode", "init_lora_weights",
            "layer_replication", "layers_pattern", "layers_to_transform", "loftq_config", "lora_alpha", "lora_bias",
            "lora_dropout", "megatron_config", "megatron_core", "modules_to_save", "peft_type", "qalora_group_size", "r",
            "rank_pattern", "revision", "target_modules", "target_parameters", "task_type", "trainable_token_indices",
            "use_dora", "use_qalora", "use_rslora",
        ];
        Assert.Equal(expected, json.Select(kv => kv.Key));
        Assert.Equal(
            """{"alora_invocation_tokens":null,"alpha_pattern":{},"arrow_config":null,"auto_mapping":null,"base_model_name_or_path":null,"bias":"none","corda_config":null,"ensure_weight_tying":false,"eva_config":null,"exclude_modules":null,"fan_in_fan_out":false,"inference_mode":false,"init_lora_weights":true,"layer_replication":null,"layers_pattern":null,"layers_to_transform":null,"loftq_config":{},"lora_alpha":8,"lora_bias":false,"lora_dropout":0,"megatron_config":null,"megatron_core":"megatron.core","modules_to_save":null,"peft_type":"LORA","qalora_group_size":16,"r":8,"rank_pattern":{},"revision":null,"target_modules":["q_proj","v_proj"],"target_parameters":null,"task_type":"CAUSAL_LM","trainable_token_indices":null,"use_dora":false,"use_qalora":false,"use_rslora":false}""",
            json.ToJsonString());
    }

    [Fact]
    public void APeftWrittenAdapterConfigBindsAndUnknownKeysWarn()
    {
        const string file = """
            {"alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "meta-llama/Llama-2-7b-hf", "bias": "none",
             "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true, "layer_replication": null,
             "layers_pattern": null, "layers_to_transform": null, "loftq_config": {}, "lora_alpha": 16, "lora_dropout": 0.05,
             "megatron_config": null, "megatron_core": "megatron.core", "modules_to_save": null, "peft_type": "LORA",
             "r": 8, "rank_pattern": {"q_proj": 16}, "revision": null, "target_modules": ["v_proj", "q_proj"],
             "task_type": "CAUSAL_LM", "use_dora": false, "use_rslora": true, "peft_version": "0.18.0",
             "option_from_a_future_peft": 1}
            """;
        var warnings = new List<string>();
        var config = (LoraConfig)Method.BindConfig(ConfigSource.FromAdapterConfig(JsonNode.Parse(file)!.AsObject(), "adapter_config.json", warnings.Add));
        Assert.Equal(8, config.R);
        Assert.Equal(16, config.LoraAlpha);
        Assert.Equal(0.05, config.LoraDropout);
        Assert.True(config.UseRslora);
        Assert.True(config.InferenceMode);
        Assert.Equal(["v_proj", "q_proj"], config.TargetModuleNames);
        Assert.Equal(16, config.RankFor("model.layers.3.self_attn.q_proj"));
        Assert.Equal(8, config.RankFor("model.layers.3.self_attn.v_proj"));
        Assert.Equal(16 / Math.Sqrt(8), config.ScalingFor(8, 16), 12);
        Assert.Equal("0.18.0", config.PeftVersion);
        Assert.Equal(["adapter_config.json: unknown key 'option_from_a_future_peft' ignored"], warnings);

        // Written back and bound again: the same JSON.
        var again = (LoraConfig)Method.BindConfig(ConfigSource.FromAdapterConfig(config.ToJson(), "again"));
        Assert.Equal(config.ToJson().ToJsonString(), again.ToJson().ToJsonString());
    }

    [Fact]
    public void RecipeOptionTyposGetDidYouMean()
    {
        var e = Assert.Throws<ConfigException>(() => FromOptions("""{"loraAlpah": 16}"""));
        Assert.Contains("did you mean 'loraAlpha'", e.Message);
        var snake = FromOptions("""{"lora_alpha": 32, "use_dora": true, "targetModules": "all-linear"}""");
        Assert.Equal(32, snake.LoraAlpha);
        Assert.True(snake.UseDora);
        Assert.True(snake.IsAllLinear);
    }

    [Theory]
    [InlineData("""{"r": 0}""", "r")]
    [InlineData("""{"loraDropout": 1.0}""", "lora_dropout")]
    [InlineData("""{"loraDropout": -0.1}""", "lora_dropout")]
    [InlineData("""{"bias": "some"}""", "bias")]
    [InlineData("""{"targetModules": 3}""", "target_modules")]
    [InlineData("""{"targetModules": ["q_proj", 3]}""", "target_modules")]
    [InlineData("""{"targetModules": ".*q_proj", "layersToTransform": [0]}""", "layers_to_transform")]
    [InlineData("""{"targetModules": ["q_proj"], "layersPattern": "layers"}""", "layers_pattern")]
    [InlineData("""{"layersToTransform": "first"}""", "layers_to_transform")]
    [InlineData("""{"initLoraWeights": "loftq"}""", "init_lora_weights")]
    [InlineData("""{"initLoraWeights": "kaiming"}""", "init_lora_weights")]
    [InlineData("""{"initLoraWeights": 1}""", "init_lora_weights")]
    [InlineData("""{"rankPattern": {"q_proj": 0}}""", "rank_pattern")]
    [InlineData("""{"rankPattern": {"q_proj(": 4}}""", "rank_pattern")]
    [InlineData("""{"megatronConfig": {}}""", "megatron_config")]
    [InlineData("""{"layerReplication": [[0, 1]]}""", "layer_replication")]
    [InlineData("""{"loraBias": true}""", "lora_bias")]
    [InlineData("""{"useQalora": true}""", "use_qalora")]
    [InlineData("""{"targetParameters": ["experts.down_proj"]}""", "target_parameters")]
    [InlineData("""{"r": "eight"}""", "r")]
    public void InvalidValuesAreErrorsNamingTheKey(string json, string key)
    {
        var e = Assert.Throws<ConfigException>(() => FromOptions(json));
        Assert.Equal(key, KeyNames.ToSnake(e.Key!));
    }

    [Fact]
    public void InitKindsParseAsPeftNamesThem()
    {
        Assert.Equal(LoraInitKind.Default, FromOptions("{}").InitKind);
        Assert.Equal(LoraInitKind.Random, FromOptions("""{"initLoraWeights": false}""").InitKind);
        Assert.Equal(LoraInitKind.Gaussian, FromOptions("""{"initLoraWeights": "gaussian"}""").InitKind);
        Assert.Equal(LoraInitKind.Pissa, FromOptions("""{"initLoraWeights": "pissa"}""").InitKind);
        Assert.Equal(LoraInitKind.Pissa, FromOptions("""{"initLoraWeights": "pissa_niter_16"}""").InitKind);
        Assert.Equal(LoraInitKind.Olora, FromOptions("""{"initLoraWeights": "olora"}""").InitKind);
    }

    [Fact]
    public void FanInFanOutIsResetForLinearLayersWithAWarning()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"targetModules": ["q_proj"], "fanInFanOut": true}""");
        Assert.False(adapter.LoraConfig.FanInFanOut);
        Assert.Contains(f.Warnings, w => w.Contains("fan_in_fan_out"));
    }
}
