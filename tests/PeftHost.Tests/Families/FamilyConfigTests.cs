using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Families;

/// <summary>What each family's config.json switches on, and what no family implements being refused by name at load.</summary>
public sealed class FamilyConfigTests
{
    [Theory]
    [InlineData("qwen2", "num_experts", "60")]
    [InlineData("qwen3", "num_experts", "128")]
    [InlineData("mistral", "num_local_experts", "8")]
    [InlineData("gemma3_text", "vision_config", """{"hidden_size":1152}""")]
    [InlineData("phi3", "rope_scaling", """{"type":"dynamic","factor":2.0}""")]
    [InlineData("llama3", "rope_scaling", """{"rope_type":"yarn","factor":4.0}""")]
    [InlineData("phi3", "partial_rotary_factor", "0.75")]
    [InlineData("gemma2", "hidden_activation", "\"gelu\"")]
    [InlineData("gemma3_text", "layer_types", """["sliding_attention","chunked_attention","sliding_attention","sliding_attention","sliding_attention","full_attention"]""")]
    public void What_the_engine_does_not_implement_is_refused_by_name_at_load(string family, string key, string value)
    {
        using var dir = new TempDir();
        var json = FamilyModels.Config(family).ToJson();
        json[key] = JsonNode.Parse(value);
        File.WriteAllText(dir["config.json"], json.ToJsonString());
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.StartsWith(dir["config.json"], e.Message);
        Assert.Contains($"'{key}'", e.Message);
    }

    [Fact]
    public void Gemma_layers_slide_as_transformers_interleaves_them()
    {
        var gemma2 = FamilyModels.Config("gemma2", j => j["num_hidden_layers"] = 4);
        Assert.Equal([true, false, true, false], gemma2.SlidingLayers);
        var gemma3 = FamilyModels.Config("gemma3_text", j => j["num_hidden_layers"] = 7);
        Assert.Equal([true, true, true, true, true, false, true], gemma3.SlidingLayers);
        Assert.Equal(10000, gemma3.LocalRopeTheta);
        var explicitTypes = FamilyModels.Config("gemma3_text", j => j["layer_types"] = JsonNode.Parse("""["full_attention","sliding_attention","full_attention","sliding_attention","full_attention","sliding_attention"]"""));
        Assert.Equal([false, true, false, true, false, true], explicitTypes.SlidingLayers);
    }

    [Fact]
    public void Qwen_slides_only_with_use_sliding_window_and_from_max_window_layers_on()
    {
        var off = FamilyModels.Config("qwen2", j => j["sliding_window"] = 8);
        Assert.Null(off.SlidingWindow);
        var on = FamilyModels.Config("qwen2", j => { j["sliding_window"] = 8; j["use_sliding_window"] = true; j["max_window_layers"] = 1; });
        Assert.Equal(8, on.SlidingWindow);
        Assert.Equal([false, true], on.SlidingLayers);
    }

    [Fact]
    public void Config_round_trips_each_family_s_options()
    {
        foreach (var family in FamilyModels.Configs.Keys)
        {
            var config = FamilyModels.Config(family);
            var again = ModelConfig.FromJson(config.ToJson("float32"));
            Assert.Equal(
                (config.HiddenActivation, config.QkNorm, config.SandwichNorms, config.FusedProjections, config.TieWordEmbeddings, config.SlidingWindow, config.QueryPreAttnScalar, config.AttnLogitSoftcapping, config.FinalLogitSoftcapping, config.LocalRopeTheta),
                (again.HiddenActivation, again.QkNorm, again.SandwichNorms, again.FusedProjections, again.TieWordEmbeddings, again.SlidingWindow, again.QueryPreAttnScalar, again.AttnLogitSoftcapping, again.FinalLogitSoftcapping, again.LocalRopeTheta));
            Assert.Equal(config.SlidingLayers, again.SlidingLayers);
        }
    }
}
