using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Xunit;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Lora;

/// <summary>A stand-in for a quantized layer: keeps its weight in float16 and is reached through <see cref="ILinearLayer"/> only.</summary>
internal sealed class HalfPrecisionLinear : CanonicalModule<Tensor, Tensor>, ILinearLayer
{
    private readonly Tensor _weight;

    public HalfPrecisionLinear(Tensor weight) : base("HalfPrecisionLinear")
    {
        _weight = weight.detach().to(ScalarType.Float16, copy: true);
        register_buffer("weight", _weight);
    }

    public long InFeatures => _weight.shape[1];

    public long OutFeatures => _weight.shape[0];

    public Tensor? Bias => null;

    public Tensor ReadWeight(ScalarType dtype) => _weight.to(dtype, copy: true);

    public void WriteWeight(Tensor weight)
    {
        using var _ = no_grad();
        _weight.copy_(weight);
    }

    public override Tensor forward(Tensor x)
    {
        using var w = _weight.to(x.dtype);
        return F.linear(x, w);
    }
}

public sealed class QuantizedBaseTests
{
    [Fact]
    public void LoraWrapsAnILinearLayerAndMergesThroughItsWeightAccessors()
    {
        using var f = new LoraFixture();
        const string path = "model.layers.0.self_attn.q_proj";
        var half = new HalfPrecisionLinear(((Linear)f.Surface.GetModule(path)).weight!);
        f.Surface.ReplaceModule(path, half);
        var baseLogits = f.Logits();

        var adapter = f.Inject("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj"]}""");
        var layer = adapter.Layers.Single(l => l.Path == path).Layer;
        Assert.Same(half, layer.BaseLayer);
        Assert.Equal(ScalarType.Float32, layer.LoraA("default").dtype);
        Assert.True(LoraFixture.Exact(f.Logits(), baseLogits));

        LoraFixture.Randomize(adapter, 13, alsoA: true);
        var unmerged = f.Logits();
        var original = half.ReadWeight(ScalarType.Float32);
        adapter.Merge();
        var expectedMerged = (original + layer.DeltaWeight("default")).to(ScalarType.Float16).to(ScalarType.Float32);
        Assert.True(LoraFixture.Exact(half.ReadWeight(ScalarType.Float32), expectedMerged), "merge goes through WriteWeight");
        Assert.True(LoraFixture.MaxDiff(f.Logits(), unmerged) < 1e-3);
        adapter.Unmerge();
        Assert.True(LoraFixture.MaxDiff(half.ReadWeight(ScalarType.Float32), original) < 1e-3);

        adapter.Remove();
        Assert.Same(half, f.Surface.GetModule(path));
    }

    [Fact]
    public void RemovingAPissaAdapterGivesTheOriginalWeightsBack()
    {
        using var f = new LoraFixture();
        var original = f.LinearWeights();
        var adapter = f.Inject("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "down_proj"], "initLoraWeights": "pissa"}""");
        LoraFixture.Randomize(adapter, 3); // training moved B; the residual must still come back exactly
        adapter.Remove();
        foreach (var (path, w) in f.LinearWeights())
            Assert.True(LoraFixture.MaxDiff(w, original[path]) < 1e-5, $"{path}: {LoraFixture.MaxDiff(w, original[path])}");
    }

    [Fact]
    public void MergingOneOfTwoActiveAdaptersKeepsTheOtherRunning()
    {
        using var f = new LoraFixture();
        var a = f.Inject("""{"r": 4, "targetModules": ["q_proj", "v_proj"]}""", "a");
        var b = f.Inject("""{"r": 4, "targetModules": ["q_proj"]}""", "b");
        LoraFixture.Randomize(a, 1, alsoA: true);
        LoraFixture.Randomize(b, 2, alsoA: true);
        f.Routing.ActiveAdapters = ["a", "b"];
        var both = f.Logits();
        a.Merge();
        Assert.True(LoraFixture.MaxDiff(f.Logits(), both) < 1e-5);
        Assert.False(b.IsMerged);
        a.Unmerge();
        Assert.True(LoraFixture.MaxDiff(f.Logits(), both) < 1e-5);
    }
}
