using System.Text.Json.Nodes;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk.Tuners;
using PeftHost.Sdk;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class TargetMatchingTests
{
    private static string[] Paths(LoraAdapter adapter) => adapter.TargetPaths.ToArray();

    [Fact]
    public void ListEntriesMatchExactNamesOrDotSuffixes()
    {
        using var f = new LoraFixture();
        Assert.Equal(
            ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"],
            Paths(f.Inject("""{"targetModules": ["q_proj", "v_proj"]}""", "a")));
        // Multi-part suffixes and full paths work too; a partial segment ("proj") does not.
        Assert.Equal(["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"],
            Paths(f.Inject("""{"targetModules": ["mlp.down_proj"]}""", "b")));
        Assert.Equal(["model.layers.1.self_attn.o_proj"],
            Paths(f.Inject("""{"targetModules": ["model.layers.1.self_attn.o_proj"]}""", "c")));
        var e = Assert.Throws<ConfigException>(() => f.Inject("""{"targetModules": ["proj"]}""", "d"));
        Assert.Equal("target_modules", e.Key);
    }

    [Fact]
    public void ARegexStringMustMatchTheWholePath()
    {
        using var f = new LoraFixture();
        Assert.Equal(["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.k_proj"],
            Paths(f.Inject("""{"targetModules": ".*\\.layers\\.1\\.self_attn\\.(q|k)_proj"}""", "a")));
        Assert.Equal(["model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj", "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj"],
            Paths(f.Inject("""{"targetModules": ".*(gate|up)_proj"}""", "b")));
        // re.fullmatch: "q_proj" alone matches no full path.
        Assert.Throws<ConfigException>(() => f.Inject("""{"targetModules": "q_proj"}""", "c"));
    }

    [Fact]
    public void AllLinearTakesEveryLinearLayerButLmHeadAndRecordsTheNames()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"targetModules": "all-linear"}""");
        Assert.Equal(14, adapter.TargetPaths.Count);
        Assert.DoesNotContain("lm_head", adapter.TargetPaths);
        Assert.Equal("""["down_proj","gate_proj","k_proj","o_proj","q_proj","up_proj","v_proj"]""",
            adapter.LoraConfig.TargetModules!.ToJsonString());
    }

    [Fact]
    public void MissingTargetModulesFallBackOnPeftsLlamaDefault()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"r": 2}""");
        Assert.Equal(4, adapter.TargetPaths.Count);
        Assert.Equal("""["q_proj","v_proj"]""", adapter.LoraConfig.TargetModules!.ToJsonString());
    }

    [Fact]
    public void ExcludeModulesTakesListsAndRegexes()
    {
        using var f = new LoraFixture();
        Assert.Equal(["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"],
            Paths(f.Inject("""{"targetModules": ["q_proj", "v_proj"], "excludeModules": ["model.layers.0.self_attn.q_proj", "layers.0.self_attn.v_proj"]}""", "a")));
        var b = f.Inject("""{"targetModules": "all-linear", "excludeModules": ".*mlp.*"}""", "b");
        Assert.Equal(8, b.TargetPaths.Count);
        Assert.All(b.TargetPaths, p => Assert.Contains(".self_attn.", p));
    }

    [Fact]
    public void LayersToTransformFiltersSuffixMatchesByLayerIndex()
    {
        using var f = new LoraFixture();
        Assert.Equal(["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"],
            Paths(f.Inject("""{"targetModules": ["q_proj", "v_proj"], "layersToTransform": 1}""", "a")));
        Assert.Equal(["model.layers.0.mlp.down_proj"],
            Paths(f.Inject("""{"targetModules": ["down_proj"], "layersToTransform": [0], "layersPattern": "layers"}""", "b")));
        // A pattern naming no module list matches nothing.
        Assert.Throws<ConfigException>(() => f.Inject("""{"targetModules": ["down_proj"], "layersToTransform": [0], "layersPattern": "h"}""", "c"));
        // An exact full path bypasses the layer filter, as in PEFT.
        Assert.Equal(["model.layers.0.self_attn.k_proj"],
            Paths(f.Inject("""{"targetModules": ["model.layers.0.self_attn.k_proj"], "layersToTransform": [1]}""", "d")));
    }

    [Fact]
    public void RankAndAlphaPatternsApplyToMatchingPaths()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""
            {"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj"],
             "rankPattern": {"v_proj": 2, "^model.layers.1.self_attn.q_proj": 6},
             "alphaPattern": {"layers\\.0\\.self_attn\\.q_proj": 32}}
            """);
        var byPath = adapter.Layers.ToDictionary(l => l.Path, l => l.Layer.Settings("default"));
        Assert.Equal((4, 32.0, 8.0), Tuple(byPath["model.layers.0.self_attn.q_proj"]));
        Assert.Equal((2, 8.0, 4.0), Tuple(byPath["model.layers.0.self_attn.v_proj"]));
        Assert.Equal((6, 8.0, 8.0 / 6), Tuple(byPath["model.layers.1.self_attn.q_proj"]));
        Assert.Equal((2, 8.0, 4.0), Tuple(byPath["model.layers.1.self_attn.v_proj"]));
        Assert.Equal([2L, 32L], adapter.Layers.Single(l => l.Path == "model.layers.1.self_attn.v_proj").Layer.LoraA("default").shape);
        Assert.Equal([32L, 6L], adapter.Layers.Single(l => l.Path == "model.layers.1.self_attn.q_proj").Layer.LoraB("default").shape);

        static (int, double, double) Tuple(LoraAdapterSettings s) => (s.Rank, s.Alpha, s.Scaling);
    }

    [Fact]
    public void NoMatchIsAnErrorListingTheAvailableLinearModules()
    {
        using var f = new LoraFixture();
        var e = Assert.Throws<ConfigException>(() => f.Inject("""{"targetModules": ["query", "value"]}"""));
        Assert.Equal("target_modules", e.Key);
        Assert.Equal("target modules [query, value] not found in the model; available linear modules: lm_head, q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj",
            e.Message);
        Assert.DoesNotContain(f.Surface.NamedModules(), m => m.Module is LoraLayer);
    }

    [Fact]
    public void NonLinearTargetsAreRefused()
    {
        using var f = new LoraFixture();
        var e = Assert.Throws<ConfigException>(() => f.Inject("""{"targetModules": ["mlp"]}"""));
        Assert.Contains("'model.layers.0.mlp'", e.Message);
        Assert.Contains("linear layers only", e.Message);
    }

    [Fact]
    public void MatcherFollowsPeftSemanticsOnPlainPaths()
    {
        var list = new TargetModuleMatcher(["q_proj"], null, layerIndices: [2], layerPatterns: ["h"]);
        Assert.True(list.Matches("transformer.h.2.attn.q_proj"));
        Assert.False(list.Matches("transformer.h.3.attn.q_proj"));
        Assert.False(list.Matches("transformer.blocks.2.attn.q_proj"));
        Assert.True(list.Matches("q_proj")); // exact
        Assert.False(list.Matches("transformer.h.2.attn.xq_proj"));

        var anyList = new TargetModuleMatcher(["q_proj"], null, layerIndices: [0]);
        Assert.Equal(0, anyList.LayerIndexOf("model.layers.0.self_attn.q_proj"));
        Assert.Null(anyList.LayerIndexOf("lm_head"));

        var regex = new TargetModuleMatcher(null, @".*attn\.(q|v)_proj", excludeRegex: @".*\.1\..*");
        Assert.True(regex.Matches("model.layers.0.self_attn.q_proj"));
        Assert.False(regex.Matches("model.layers.1.self_attn.q_proj"));
        Assert.False(regex.Matches("model.layers.0.self_attn.q_proj.extra"));
    }
}
