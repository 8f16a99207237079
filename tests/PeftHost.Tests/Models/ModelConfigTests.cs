using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Models;

public sealed class ModelConfigTests
{
    /// <summary>Llama-2-7B's published config.json.</summary>
    internal static JsonObject Llama2_7B() => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"), ["model_type"] = "llama",
        ["hidden_size"] = 4096, ["intermediate_size"] = 11008, ["num_hidden_layers"] = 32,
        ["num_attention_heads"] = 32, ["num_key_value_heads"] = 32, ["vocab_size"] = 32000,
        ["max_position_embeddings"] = 4096, ["rms_norm_eps"] = 1e-5, ["hidden_act"] = "silu",
        ["tie_word_embeddings"] = false, ["torch_dtype"] = "float16", ["bos_token_id"] = 1, ["eos_token_id"] = 2,
    };

    [Fact]
    public void Llama2_7B_on_the_meta_device_has_its_published_parameter_count()
    {
        var config = ModelConfig.FromJson(Llama2_7B());
        using var model = ModelLoader.Build(config, META, ScalarType.Float16, WeightInit.Empty);
        long total = model.named_parameters().Sum(p => p.parameter.NumberOfElements);
        Assert.Equal(6_738_415_616, total);
        Assert.Equal(DeviceType.META, model.named_parameters().First().parameter.device.type);
    }

    [Theory]
    [InlineData("rope_scaling", """{"type":"yarn","factor":4}""", "rope_scaling")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act")]
    [InlineData("architectures", """["GPT2LMHeadModel"]""", "GPT2LMHeadModel")]
    [InlineData("num_key_value_heads", "3", "num_key_value_heads")]
    [InlineData("hidden_size", "\"wide\"", "hidden_size")]
    public void Configs_the_engine_cannot_honour_are_refused_naming_the_key(string key, string value, string expected)
    {
        var json = Llama2_7B();
        json[key] = JsonNode.Parse(value);
        var e = Assert.Throws<ModelFormatException>(() => ModelConfig.FromJson(json, "config.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("config.json", e.Message);
    }

    [Fact]
    public void Llama3_rope_scaling_and_explicit_head_dim_are_honoured()
    {
        var json = Llama2_7B();
        json["rope_scaling"] = JsonNode.Parse("""{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}""");
        json["head_dim"] = 64;
        var config = ModelConfig.FromJson(json);
        Assert.Equal("llama3", config.RopeScaling!.Type);
        Assert.Equal(64, config.HeadDim);
    }

    [Fact]
    public void Config_round_trips_through_json()
    {
        var config = TinyModels.Config();
        var again = ModelConfig.FromJson(config.ToJson("float32"));
        Assert.Equal((config.HiddenSize, config.IntermediateSize, config.NumHiddenLayers, config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim, config.VocabSize, config.TieWordEmbeddings, config.RmsNormEps),
            (again.HiddenSize, again.IntermediateSize, again.NumHiddenLayers, again.NumAttentionHeads, again.NumKeyValueHeads, again.HeadDim, again.VocabSize, again.TieWordEmbeddings, again.RmsNormEps));
        Assert.Equal(config.EosTokenIds, again.EosTokenIds);
        Assert.Equal("float32", again.TorchDtype);
    }
}
