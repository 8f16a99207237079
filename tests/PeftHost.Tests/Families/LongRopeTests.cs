using System.Text.Json.Nodes;
using PeftHost.Core.Export.Gguf;
using PeftHost.Core.Models;
using PeftHost.Tests.Export;
using PeftHost.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace PeftHost.Tests.Families;

/// <summary>
/// Phi-3's LongRoPE (the 128k variants' <c>rope_scaling</c>): read as transformers reads it, applied as its longrope
/// update applies it (short factors within the original context, long ones past it, cos/sin scaled by the attention
/// factor), and judged by llama.cpp on both sides of the original context.
/// </summary>
public sealed class LongRopeTests(ITestOutputHelper log)
{
    private static readonly double[] Short = [1.0, 1.1, 1.3, 1.6, 2.0, 2.6, 3.3, 4.0];
    private static readonly double[] Long = [1.0, 1.5, 2.5, 4.0, 6.0, 9.0, 13.0, 20.0];

    /// <summary>The tiny Phi-3 (head_dim 16: 8 rotated pairs) with LongRoPE over <paramref name="original"/> of <paramref name="maxPositions"/> positions.</summary>
    private static Action<JsonObject> LongRope(int original, int maxPositions) => j =>
    {
        j["max_position_embeddings"] = maxPositions;
        j["original_max_position_embeddings"] = original; // where Phi-3's configs put it
        j["rope_scaling"] = new JsonObject
        {
            ["type"] = "longrope",
            ["short_factor"] = new JsonArray(Short.Select(f => (JsonNode)f).ToArray()),
            ["long_factor"] = new JsonArray(Long.Select(f => (JsonNode)f).ToArray()),
        };
    };

    [Fact]
    public void The_config_gives_transformers_factor_and_attention_factor()
    {
        var scaling = FamilyModels.Config("phi3", LongRope(original: 256, maxPositions: 1024)).RopeScaling!;
        Assert.Equal("longrope", scaling.Type);
        Assert.Equal(256, scaling.OriginalMaxPositionEmbeddings);
        Assert.Equal(4.0, scaling.Factor);
        Assert.Equal(Math.Sqrt(1 + Math.Log(4) / Math.Log(256)), scaling.AttentionFactor, 12);
        Assert.Equal(Short, scaling.ShortFactor);
        Assert.Equal(Long, scaling.LongFactor);

        var given = FamilyModels.Config("phi3", j => { LongRope(256, 1024)(j); j["rope_scaling"]!["attention_factor"] = 1.25; });
        Assert.Equal(1.25, given.RopeScaling!.AttentionFactor);
        var noExtension = FamilyModels.Config("phi3", LongRope(original: 256, maxPositions: 256));
        Assert.Equal(1.0, noExtension.RopeScaling!.AttentionFactor);
    }

    [Theory]
    [InlineData("long_factor", null, "longrope needs 'long_factor'")]
    [InlineData("short_factor", "[1.0, 2.0]", "'short_factor' has 2 values; head_dim 16 rotates 8 pairs")]
    [InlineData("long_factor", "[1, 1, 1, 1, 1, 1, 1, 0]", "'long_factor'[7] must be a positive number")]
    public void A_bad_longrope_entry_is_refused_naming_it(string key, string? value, string expected)
    {
        using var dir = new TempDir();
        var json = FamilyModels.Config("phi3", LongRope(256, 1024)).ToJson();
        var scaling = json["rope_scaling"]!.AsObject();
        if (value is null) scaling.Remove(key);
        else scaling[key] = JsonNode.Parse(value);
        File.WriteAllText(dir["config.json"], json.ToJsonString());
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.StartsWith(dir["config.json"], e.Message);
        Assert.Contains("'rope_scaling'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Short_factors_serve_the_original_context_and_long_ones_past_it_with_cos_and_sin_scaled()
    {
        var config = FamilyModels.Config("phi3", LongRope(original: 8, maxPositions: 64));
        using var rope = new RotaryEmbedding(config, CPU);
        double attention = config.RopeScaling!.AttentionFactor;
        Assert.True(attention > 1.3, $"attention factor {attention}");
        foreach (var (length, factors) in new[] { (8, Short), (9, Long) })
        {
            using var positions = arange(length, ScalarType.Int64).unsqueeze(0);
            var (cos, sin) = rope.Compute(positions, ScalarType.Float32);
            var c = cos[0, 0].data<float>().ToArray();
            var s = sin[0, 0].data<float>().ToArray();
            for (int p = 0; p < length; p++)
                for (int i = 0; i < 8; i++)
                {
                    double angle = p / (factors[i] * Math.Pow(config.RopeTheta, 2.0 * i / 16));
                    Assert.Equal(attention * Math.Cos(angle), c[p * 16 + i], 5);
                    Assert.Equal(attention * Math.Sin(angle), s[p * 16 + i + 8], 5); // the second half repeats the first
                }
            cos.Dispose(); sin.Dispose();
        }
    }

    /// <summary>
    /// llama.cpp picks the long factors when its context (256 in the judge) is longer than the original context; PeftHost
    /// when a call's positions go past it. Original 256 keeps both on the short factors; original 8 puts every judged
    /// call (the text and the greedy prompt are longer than 8 tokens) on the long ones.
    /// </summary>
    [SkippableTheory]
    [InlineData(256, 1024)]
    [InlineData(8, 256)]
    public void LongRope_Phi3_in_llama_cpp_matches_PeftHost(int original, int maxPositions)
    {
        using var model = FamilyModels.Random("phi3", LongRope(original, maxPositions));
        using var dir = new TempDir();
        FamilyModels.CopyTokenizer(dir.Path);
        var gguf = dir["phi3-longrope.gguf"];
        GgufModelExporter.Export(model, dir.Path, gguf, GgmlType.F32);

        var judged = LlamaCppJudge.Run(gguf, prompts: [GgufModelExportTests.Prompts[2]], maxTokens: 12, logprobTexts: [GgufModelExportTests.Text]);
        var text = judged.Logprobs[0];
        var prompt = judged.Prompts[0];
        Assert.True(prompt.PromptTokens.Length > 8, $"the prompt must be past an original context of 8: {prompt.PromptTokens.Length} tokens");
        var (worst, _) = LlamaCppJudge.LogProbDifference(model, text);
        log.WriteLine($"original {original}: {text.Tokens.Length} positions, largest log-probability difference {worst:E2}");
        Assert.InRange(worst, 0, 1e-4);
        Assert.Equal(LlamaCppJudge.Greedy(model, prompt.PromptTokens, 12, eos: 2), prompt.Generated);
    }
}
