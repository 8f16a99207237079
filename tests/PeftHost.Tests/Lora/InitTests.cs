using PeftHost.Plugins.Lora;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class InitTests
{
    [Fact]
    public void DefaultInitIsKaimingUniformAAndZeroB()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"r": 8, "targetModules": "all-linear"}""");
        foreach (var (_, layer) in adapter.Layers)
        {
            var a = layer.LoraA("default");
            double bound = 1 / Math.Sqrt(layer.InFeatures);
            Assert.True(a.abs().max().ToDouble() <= bound + 1e-7);
            Assert.True(a.abs().max().ToDouble() > bound / 2, "A should spread over its kaiming range");
            Assert.Equal(0, layer.LoraB("default").abs().sum().ToDouble());
        }
    }

    [Fact]
    public void GaussianInitDrawsAWithStdOneOverR()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"r": 4, "targetModules": "all-linear", "initLoraWeights": "gaussian"}""");
        var all = cat(adapter.Layers.Select(l => l.Layer.LoraA("default").detach().flatten()).ToList(), 0);
        Assert.True(all.shape[0] > 2000);
        Assert.InRange(all.std().ToDouble(), 0.25 * 0.9, 0.25 * 1.1);
        Assert.InRange(all.mean().ToDouble(), -0.02, 0.02);
        Assert.All(adapter.Layers, l => Assert.Equal(0, l.Layer.LoraB("default").abs().sum().ToDouble()));
    }

    [Fact]
    public void FalseLeavesBRandomSoTheAdapterIsNotANoOp()
    {
        using var f = new LoraFixture();
        var baseLogits = f.Logits();
        var adapter = f.Inject("""{"r": 4, "targetModules": ["q_proj", "v_proj"], "initLoraWeights": false}""");
        foreach (var (_, layer) in adapter.Layers)
        {
            var b = layer.LoraB("default");
            Assert.True(b.abs().sum().ToDouble() > 0);
            Assert.True(b.abs().max().ToDouble() <= 1 / Math.Sqrt(4) + 1e-7);
        }
        Assert.True(LoraFixture.MaxDiff(f.Logits(), baseLogits) > 1e-5);
    }

    [Fact]
    public void PissaMovesThePrincipalComponentsIntoTheAdapterAndKeepsTheResidual()
    {
        using var f = new LoraFixture();
        var original = f.LinearWeights();
        var baseLogits = f.Logits();
        var adapter = f.Inject("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj", "down_proj"], "initLoraWeights": "pissa"}""");
        foreach (var (path, layer) in adapter.Layers)
        {
            var residual = ((Linear)layer.BaseLayer).weight!.detach();
            var delta = layer.DeltaWeight("default");
            Assert.True(LoraFixture.MaxDiff(residual + delta, original[path]) < 1e-4, $"{path}: W_res + s·B·A != W");

            // s·B·A is the best rank-4 approximation of W: U[:, :4] diag(S[:4]) Vh[:4].
            var (u, s, vh) = linalg.svd(original[path], fullMatrices: false);
            var top = u[.., ..4].matmul(diag(s[..4])).matmul(vh[..4]);
            Assert.True(LoraFixture.MaxDiff(delta, top) < 1e-4, $"{path}: not the principal components");
            Assert.True(LoraFixture.MaxDiff(residual, original[path]) > 1e-3, $"{path}: the base weight should hold the residual");
        }
        Assert.True(LoraFixture.MaxDiff(f.Logits(), baseLogits) < 1e-4);
    }

    [Fact]
    public void PissaNiterUsesTheSameDecomposition()
    {
        using var f = new LoraFixture();
        var original = f.LinearWeights();
        var adapter = f.Inject("""{"r": 2, "targetModules": ["o_proj"], "initLoraWeights": "pissa_niter_4"}""");
        foreach (var (path, layer) in adapter.Layers)
            Assert.True(LoraFixture.MaxDiff(((Linear)layer.BaseLayer).weight! + layer.DeltaWeight("default"), original[path]) < 1e-4);
    }

    [Fact]
    public void OloraUsesQrAndKeepsTheResidual()
    {
        using var f = new LoraFixture();
        var original = f.LinearWeights();
        var adapter = f.Inject("""{"r": 4, "loraAlpha": 16, "targetModules": ["q_proj", "up_proj"], "initLoraWeights": "olora"}""");
        foreach (var (path, layer) in adapter.Layers)
        {
            var residual = ((Linear)layer.BaseLayer).weight!.detach();
            Assert.True(LoraFixture.MaxDiff(residual + layer.DeltaWeight("default"), original[path]) < 1e-4);
            var b = layer.LoraB("default").detach();
            Assert.True(LoraFixture.MaxDiff(b.t().matmul(b), eye(4)) < 1e-5, "B = Q[:, :r] has orthonormal columns");
        }
    }

    [Fact]
    public void PissaRankAboveTheWeightsRankIsRefusedBeforeAnythingChanges()
    {
        using var f = new LoraFixture();
        var original = f.LinearWeights();
        // k_proj is [16, 32]: r = 20 fits q_proj (32) but not k_proj.
        var e = Assert.Throws<PeftHost.Sdk.ConfigException>(() =>
            f.Inject("""{"r": 20, "targetModules": ["q_proj", "k_proj"], "initLoraWeights": "pissa"}"""));
        Assert.Equal("r", e.Key);
        Assert.Contains("min(in, out) = 16", e.Message);
        Assert.DoesNotContain(f.Surface.NamedModules(), m => m.Module is LoraLayer);
        foreach (var (path, w) in f.LinearWeights()) Assert.True(LoraFixture.Exact(w, original[path]), path);
    }
}
