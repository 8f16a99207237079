using PeftHost.Plugins.Lora;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class LoraForwardTests
{
    private const string QV = """{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj"]}""";

    [Fact]
    public void WithBAtZeroTheAdaptedLogitsEqualTheBaseModelsExactly()
    {
        using var f = new LoraFixture();
        var before = f.Logits();
        var adapter = f.Inject("""{"r": 4, "loraAlpha": 16, "targetModules": "all-linear"}""");
        Assert.All(adapter.Layers, l => Assert.Equal(0, l.Layer.LoraB("default").abs().sum().ToDouble()));
        Assert.True(LoraFixture.Exact(before, f.Logits()), "logits changed although every lora_B is zero");
    }

    [Fact]
    public void MergedMatchesUnmergedAndUnmergeRestoresTheBaseWeights()
    {
        using var f = new LoraFixture();
        var original = f.LinearWeights();
        var adapter = f.Inject("""{"r": 4, "loraAlpha": 16, "targetModules": "all-linear"}""");
        LoraFixture.Randomize(adapter, alsoA: true);
        var unmerged = f.Logits();
        Assert.True(LoraFixture.MaxDiff(unmerged, f.BaseLogits()) > 1e-3, "the random adapter should change the logits");

        adapter.Merge();
        Assert.True(adapter.IsMerged);
        var merged = f.Logits();
        Assert.True(LoraFixture.MaxDiff(merged, unmerged) < 1e-5, $"merged vs unmerged differ by {LoraFixture.MaxDiff(merged, unmerged)}");

        adapter.Unmerge();
        Assert.False(adapter.IsMerged);
        foreach (var (path, w) in f.LinearWeights())
            Assert.True(LoraFixture.MaxDiff(w, original[path]) < 1e-6, $"{path} not restored: {LoraFixture.MaxDiff(w, original[path])}");
        Assert.True(LoraFixture.MaxDiff(f.Logits(), unmerged) < 1e-5);
    }

    [Theory]
    [InlineData(false, 4.0)] // alpha / r = 16 / 4
    [InlineData(true, 8.0)]  // alpha / sqrt(r) = 16 / 2
    public void ScalingIsAlphaOverRAndAlphaOverSqrtRWithRsLora(bool rslora, double expected)
    {
        using var f = new LoraFixture();
        var adapter = f.Inject($$"""{"r": 4, "loraAlpha": 16, "useRslora": {{(rslora ? "true" : "false")}}, "targetModules": ["q_proj"]}""");
        LoraFixture.Randomize(adapter, alsoA: true);
        var (path, layer) = adapter.Layers[0];
        Assert.Equal("model.layers.0.self_attn.q_proj", path);
        Assert.Equal(expected, layer.Settings("default").Scaling, 12);

        // Hand-computed ΔW = expected · B · A, against the layer's output minus the base's.
        var a = layer.LoraA("default").detach();
        var b = layer.LoraB("default").detach();
        var deltaW = b.matmul(a) * expected;
        Assert.True(LoraFixture.MaxDiff(layer.DeltaWeight("default"), deltaW) < 1e-6);
        var x = torch.randn(3, 7, 32);
        using var _ = no_grad();
        var adapted = layer.forward(x);
        var baseOut = layer.BaseLayer.forward(x);
        var handDelta = x.matmul(deltaW.t());
        Assert.True(LoraFixture.MaxDiff(adapted - baseOut, handDelta) < 1e-5, $"ΔW mismatch {LoraFixture.MaxDiff(adapted - baseOut, handDelta)}");
    }

    [Fact]
    public void DisabledAdaptersGiveTheBaseModel()
    {
        using var f = new LoraFixture();
        var baseLogits = f.Logits();
        var adapter = f.Inject(QV);
        LoraFixture.Randomize(adapter);
        Assert.True(LoraFixture.MaxDiff(f.Logits(), baseLogits) > 1e-4);
        Assert.True(LoraFixture.Exact(f.BaseLogits(), baseLogits));
        f.Routing.ActiveAdapters = [];
        Assert.True(LoraFixture.Exact(f.Logits(), baseLogits), "no active adapter must give the base model");
    }

    [Fact]
    public void SeveralActiveAdaptersAddTheirDeltas()
    {
        using var f = new LoraFixture();
        var a = f.Inject(QV, "a");
        var b = f.Inject("""{"r": 2, "loraAlpha": 4, "targetModules": ["q_proj"]}""", "b");
        LoraFixture.Randomize(a, 3, alsoA: true);
        LoraFixture.Randomize(b, 4, alsoA: true);
        var layer = a.Layers[0].Layer;
        Assert.Same(layer, b.Layers[0].Layer); // the second adapter joins the existing LoRA layer
        Assert.Equal(["a", "b"], layer.AdapterNames);

        var x = torch.randn(2, 3, 32);
        using var _ = no_grad();
        f.Routing.ActiveAdapters = ["a", "b"];
        var both = layer.forward(x);
        var expected = layer.BaseLayer.forward(x) + x.matmul((layer.DeltaWeight("a") + layer.DeltaWeight("b")).t());
        Assert.True(LoraFixture.MaxDiff(both, expected) < 1e-5);
    }

    [Fact]
    public void DropoutChangesOutputsInTrainModeOnly()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"r": 4, "loraAlpha": 8, "loraDropout": 0.5, "targetModules": ["q_proj", "v_proj", "down_proj"]}""");
        LoraFixture.Randomize(adapter, alsoA: true);

        f.Model.eval();
        var eval1 = f.Logits();
        var eval2 = f.Logits();
        Assert.True(LoraFixture.Exact(eval1, eval2), "eval mode must be deterministic");

        f.Model.train();
        Assert.True(adapter.Layers[0].Layer.training, "train() must reach the LoRA layers");
        var train1 = f.Logits();
        var train2 = f.Logits();
        Assert.True(LoraFixture.MaxDiff(train1, eval1) > 1e-4, "dropout must change train-mode outputs");
        Assert.True(LoraFixture.MaxDiff(train1, train2) > 1e-6, "two train-mode passes should draw different masks");

        f.Model.eval();
        Assert.True(LoraFixture.Exact(f.Logits(), eval1));
    }

    [Fact]
    public void AdapterWeightsTrainAndWrappedBaseWeightsAreFrozen()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject(QV);
        Assert.All(adapter.NamedParameters(), p => Assert.True(p.Parameter.requires_grad, p.Key));
        foreach (var (_, layer) in adapter.Layers)
            Assert.False(((Linear)layer.BaseLayer).weight!.requires_grad);

        var frozen = f.Inject("""{"r": 4, "targetModules": ["q_proj"], "inferenceMode": true}""", "frozen");
        Assert.All(frozen.NamedParameters(), p => Assert.False(p.Parameter.requires_grad, p.Key));
    }

    [Fact]
    public void GradientsReachLoraAAndBButNotTheBase()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject(QV);
        LoraFixture.Randomize(adapter);
        var logits = f.Model.Forward(f.Ids);
        logits.pow(2).mean().backward();
        foreach (var (key, p) in adapter.NamedParameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().ToDouble() > 0, $"no gradient for {key}");
        Assert.Null(((Linear)adapter.Layers[0].Layer.BaseLayer).weight!.grad);
    }
}
