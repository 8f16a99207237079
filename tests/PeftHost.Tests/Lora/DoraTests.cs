using PeftHost.Plugins.Lora;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class DoraTests
{
    private const string Dora = """{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj", "down_proj"], "useDora": true}""";

    [Fact]
    public void MagnitudeStartsAsTheRowNormsAndTheModelIsUnchanged()
    {
        using var f = new LoraFixture();
        var baseLogits = f.Logits();
        var adapter = f.Inject(Dora);
        foreach (var (_, layer) in adapter.Layers)
        {
            var w = ((Linear)layer.BaseLayer).weight!;
            var m = layer.Magnitude("default")!;
            Assert.Equal([layer.OutFeatures], m.shape);
            Assert.True(LoraFixture.MaxDiff(m, linalg.vector_norm(w, 2, [1])) < 1e-6);
        }
        Assert.True(LoraFixture.MaxDiff(f.Logits(), baseLogits) < 1e-5);
    }

    [Fact]
    public void ForwardIsTheMagnitudeScaledDirectionOfWPlusDeltaW()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject(Dora);
        LoraFixture.Randomize(adapter, 5, alsoA: true);
        var (_, layer) = adapter.Layers.Single(l => l.Path == "model.layers.1.mlp.down_proj");
        using (no_grad()) layer.Magnitude("default")!.mul_(1.25);

        var w = ((Linear)layer.BaseLayer).weight!.detach();
        var combined = w + layer.DeltaWeight("default");
        var expectedW = (layer.Magnitude("default")!.detach() / linalg.vector_norm(combined, 2, [1])).view(-1, 1) * combined;
        var x = randn(2, 3, 64);
        using var _ = no_grad();
        var y = layer.forward(x);
        Assert.True(LoraFixture.MaxDiff(y, x.matmul(expectedW.t())) < 1e-5);
    }

    [Fact]
    public void MergeMatchesUnmergedAndUnmergeRestoresTheWeights()
    {
        using var f = new LoraFixture();
        var original = f.LinearWeights();
        var adapter = f.Inject(Dora);
        LoraFixture.Randomize(adapter, 6, alsoA: true);
        using (no_grad())
            foreach (var (_, layer) in adapter.Layers) layer.Magnitude("default")!.mul_(0.9);
        var unmerged = f.Logits();
        adapter.Merge();
        Assert.True(LoraFixture.MaxDiff(f.Logits(), unmerged) < 1e-5);
        adapter.Unmerge();
        foreach (var (path, w) in f.LinearWeights())
            Assert.True(LoraFixture.MaxDiff(w, original[path]) < 1e-6, $"{path}: {LoraFixture.MaxDiff(w, original[path])}");
        Assert.True(LoraFixture.MaxDiff(f.Logits(), unmerged) < 1e-5);
    }

    [Fact]
    public void TheMagnitudeTrainsAndCountsOutFeatures()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject(Dora);
        long expected = 2 * (4 * (32 + 32) + 32 + 4 * (32 + 16) + 16 + 4 * (64 + 32) + 32);
        Assert.Equal(expected, adapter.TrainableParameterCount);
        LoraFixture.Randomize(adapter, 8);
        f.Model.Forward(f.Ids).pow(2).mean().backward();
        var magnitude = adapter.Layers[0].Layer.Magnitude("default")!;
        Assert.True(magnitude.grad is not null && magnitude.grad.abs().sum().ToDouble() > 0);
    }
}
