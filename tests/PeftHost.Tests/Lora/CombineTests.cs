using PeftHost.Plugins.Lora;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class CombineTests
{
    // Scalings: a = 8/4 = 2, b = 4/4 = 1; different targets so some layers hold only one source.
    private static (LoraFixture F, LoraAdapter A, LoraAdapter B) TwoAdapters()
    {
        var f = new LoraFixture();
        var a = f.Inject("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj"]}""", "a");
        var b = f.Inject("""{"r": 4, "loraAlpha": 4, "targetModules": ["q_proj", "o_proj"]}""", "b");
        LoraFixture.Randomize(a, 21, alsoA: true);
        LoraFixture.Randomize(b, 22, alsoA: true);
        return (f, a, b);
    }

    private static Tensor BA(LoraLayer layer, string name) => layer.LoraB(name).detach().matmul(layer.LoraA(name).detach());

    [Fact]
    public void CatGivesTheExactWeightedSumOfDeltas()
    {
        var (f, a, b) = TwoAdapters();
        using var _ = f;
        var combined = (LoraAdapter)f.Method.Combine(f.Surface, [a, b], [0.7, -0.4], "ab", "cat");
        Assert.Equal(8, combined.LoraConfig.R);
        Assert.Equal(8, combined.LoraConfig.LoraAlpha);
        Assert.Equal("""["o_proj","q_proj","v_proj"]""", combined.LoraConfig.TargetModules!.ToJsonString());
        Assert.Equal(6, combined.Layers.Count);
        foreach (var (path, layer) in combined.Layers)
        {
            Assert.Equal(1.0, layer.Settings("ab").Scaling);
            var expected = zeros(layer.OutFeatures, layer.InFeatures);
            if (layer.HasAdapter("a")) expected += 0.7 * 2 * BA(layer, "a");
            if (layer.HasAdapter("b")) expected += -0.4 * 1 * BA(layer, "b");
            Assert.True(LoraFixture.MaxDiff(layer.DeltaWeight("ab"), expected) < 1e-6, path);
            int rank = (layer.HasAdapter("a") ? 4 : 0) + (layer.HasAdapter("b") ? 4 : 0);
            Assert.Equal(rank, layer.Settings("ab").Rank);
        }
        // Layers holding one source get rank 4: recorded so the saved config reloads with the right shapes.
        Assert.Equal(4, combined.LoraConfig.RankFor("model.layers.0.self_attn.v_proj"));
        Assert.Equal(8, combined.LoraConfig.RankFor("model.layers.0.self_attn.q_proj"));
        Assert.All(combined.NamedParameters(), p => Assert.False(p.Parameter.requires_grad));
    }

    [Fact]
    public void LinearCombinesAAndBWithSquareRootWeights()
    {
        var (f, a, b) = TwoAdapters();
        using var _ = f;
        var combined = (LoraAdapter)f.Method.Combine(f.Surface, [a, b], [0.5, 2.0], "ab", "linear");
        Assert.Equal(4, combined.LoraConfig.R);
        foreach (var (path, layer) in combined.Layers)
        {
            var sumA = zeros(4, layer.InFeatures);
            var sumB = zeros(layer.OutFeatures, 4);
            foreach (var (name, w, s) in new[] { ("a", 0.5, 2.0), ("b", 2.0, 1.0) })
            {
                if (!layer.HasAdapter(name)) continue;
                sumA += Math.Sqrt(w * s) * layer.LoraA(name).detach();
                sumB += Math.Sqrt(w * s) * layer.LoraB(name).detach();
            }
            Assert.True(LoraFixture.MaxDiff(layer.DeltaWeight("ab"), sumB.matmul(sumA)) < 1e-6, path);
        }
        // With a single source, linear reproduces w·s·B·A.
        var single = (LoraAdapter)f.Method.Combine(f.Surface, [a], [1.5], "a15", "svd");
        foreach (var (_, layer) in single.Layers)
            Assert.True(LoraFixture.MaxDiff(layer.DeltaWeight("a15"), 1.5 * 2 * BA(layer, "a")) < 1e-6);
    }

    [Fact]
    public void SvdFactorsPeftsWeightedDeltaSum()
    {
        var (f, a, b) = TwoAdapters();
        using var _ = f;
        // get_delta_weight already carries s: M = Σ w·s·B·A (PEFT since huggingface/peft#3111).
        var full = (LoraAdapter)f.Method.Combine(f.Surface, [a, b], [0.7, 0.3], "full", "svd", svdRank: 8);
        var truncated = (LoraAdapter)f.Method.Combine(f.Surface, [a, b], [0.7, 0.3], "low", "svd", svdRank: 2);
        Assert.Equal(8, full.LoraConfig.R);
        foreach (var (path, layer) in full.Layers)
        {
            var m = zeros(layer.OutFeatures, layer.InFeatures);
            if (layer.HasAdapter("a")) m += 0.7 * 2 * BA(layer, "a");
            if (layer.HasAdapter("b")) m += 0.3 * 1 * BA(layer, "b");
            Assert.True(LoraFixture.MaxDiff(layer.DeltaWeight("full"), m) < 1e-5, $"{path}: rank-8 SVD must reproduce M");

            var (u, s, vh) = linalg.svd(m, fullMatrices: false);
            var best2 = u[.., ..2].matmul(diag(s[..2])).matmul(vh[..2]);
            Assert.True(LoraFixture.MaxDiff(layer.DeltaWeight("low"), best2) < 1e-5, $"{path}: rank-2 SVD truncation");
            Assert.Equal(2, layer.Settings("low").Rank);
        }
    }

    [Fact]
    public void CombinedAdaptersRunAndBadRequestsAreRefused()
    {
        var (f, a, b) = TwoAdapters();
        using var _ = f;
        var combined = f.Method.Combine(f.Surface, [a, b], [1.0, 1.0], "sum", "cat");
        f.Routing.ActiveAdapters = ["a", "b"];
        var both = f.Logits();
        f.Routing.ActiveAdapters = ["sum"];
        Assert.True(LoraFixture.MaxDiff(f.Logits(), both) < 1e-5, "cat with unit weights equals running both adapters");
        Assert.Equal(["linear", "cat", "svd"], f.Method.CombinationTypes);

        var c = f.Inject("""{"r": 2, "targetModules": ["q_proj"]}""", "c", activate: false);
        Assert.Throws<ArgumentException>(() => f.Method.Combine(f.Surface, [a, c], [1, 1], "ac", "linear"));
        Assert.Throws<ArgumentException>(() => f.Method.Combine(f.Surface, [a, b], [1, 1], "sum", "cat"));
        Assert.Throws<ArgumentException>(() => f.Method.Combine(f.Surface, [a, b], [1, 1], "x", "ties"));
        Assert.Throws<ArgumentException>(() => f.Method.Combine(f.Surface, [a, b], [1], "x", "cat"));
        Assert.NotNull(combined);
    }
}
