using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Models;

public sealed class FloatMatVecTests
{
    [Theory]
    [InlineData(1, 768, false)]
    [InlineData(4, 768, true)]
    [InlineData(2, 520, true)] // 520 = 16·32 + 8: the 8-wide tail
    [InlineData(3, 40, false)]
    public void A_few_rows_through_the_kernel_match_libtorch(int rows, int inFeatures, bool bias)
    {
        // 2,200 output rows: split over libtorch's threads (IntraOpParallel).
        using var g = new Generator(7);
        using var layer = nn.Linear(inFeatures, 2200, hasBias: bias);
        using (no_grad()) layer.weight!.copy_(randn([2200, inFeatures], generator: g) * 0.05);
        using var x = randn([1, rows, inFeatures], generator: g);
        using var expected = F.linear(x, layer.weight!, layer.bias);
        using (no_grad())
        {
            Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported && IntraOpParallel.Parts(2200, inFeatures * rows) > 1,
                FloatMatVec.Applies(layer.weight!, x));
            using var y = FloatMatVec.Forward(layer, x);
            Assert.Equal(expected.shape, y.shape);
            Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5), $"max difference {(y - expected).abs().max().item<float>()}");
            using var offset = cat([zeros(1, rows, inFeatures), x], 1).narrow(1, rows, rows); // starts inside its storage
            using var again = FloatMatVec.Forward(layer, offset);
            Assert.True(again.allclose(expected, rtol: 1e-5, atol: 1e-5), "an input that starts inside its storage");
        }
    }

    [Fact]
    public void Gradients_many_rows_other_dtypes_and_small_weights_take_libtorchs_forward()
    {
        using var layer = nn.Linear(512, 1024); // 512K weights: split in two where libtorch has two threads
        using var one = randn([1, 1, 512]);
        using (no_grad()) // as generation runs
            Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported && IntraOpParallel.Parts(1024, 512) > 1, FloatMatVec.Applies(layer.weight!, one));
        Assert.False(FloatMatVec.Applies(layer.weight!, one)); // a trainable weight: autograd needs libtorch's graph
        using var x = randn([1, 1, 512]).requires_grad_(true);
        Assert.False(FloatMatVec.Applies(layer.weight!, x));
        using var many = randn([2, 3, 512]);
        Assert.False(FloatMatVec.Applies(layer.weight!, many));
        using var half = randn([1, 512]).to(ScalarType.BFloat16);
        using var small = nn.Linear(64, 32);
        using (no_grad())
        {
            Assert.False(FloatMatVec.Applies(layer.weight!, many));
            Assert.False(FloatMatVec.Applies(layer.weight!, half));
            Assert.False(FloatMatVec.Applies(small.weight!, randn([1, 64]))); // 2,048 weights: one part, libtorch's own product
        }
        using var y = FloatMatVec.Forward(layer, x);
        y.sum().backward();
        Assert.NotNull(x.grad);
    }

    [Fact]
    public void Greedy_decoding_through_the_kernels_continues_as_the_full_recompute_does()
    {
        // The cached steps run one token through the kernels, the uncached ones the whole sequence through libtorch.
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 40, StopAtEos = false };
        var cached = generator.Generate([[1, 403, 411]], options);
        var recomputed = generator.Generate([[1, 403, 411]], options with { UseCache = false });
        Assert.Equal(recomputed[0], cached[0]);
    }

    [Fact]
    public void Cached_one_token_steps_through_the_kernels_give_the_full_forwards_logits()
    {
        // Projections large enough to be split (hidden 512: 262K weights in q_proj): the cached steps of one token go
        // through the kernel on libtorch's threads, the full forward of the whole sequence through libtorch's matmul.
        using var model = TinyModels.Create(c =>
        {
            c["hidden_size"] = 512; c["intermediate_size"] = 1024; c["num_attention_heads"] = 8; c["num_key_value_heads"] = 4; c["vocab_size"] = 512;
        });
        using var _ = inference_mode();
        using var one = zeros(1, 1, 512);
        var q = (TorchSharp.Modules.Linear)model.named_modules().First(m => m.name.EndsWith("q_proj")).module;
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported && IntraOpParallel.Parts(512, 512) > 1, FloatMatVec.Applies(q.weight!, one));
        using var ids = TinyModels.Tokens(1, 12, vocab: 512);
        using var full = model.Forward(ids);
        using var cache = KvCache.For(model, 1, 12);
        for (int t = 0; t < 12; t++)
        {
            using var step = model.Forward(ids.narrow(1, t, 1), cache: cache, lastPositionOnly: true);
            using var expected = full.narrow(1, t, 1);
            Assert.True(step.allclose(expected, rtol: 1e-4, atol: 1e-4), $"position {t}: max difference {(step - expected).abs().max().item<float>()}");
        }
    }
}
