using PeftHost.Core.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Tests.Quantization;

public class AdamW8bitTests
{
    private sealed record Problem(Tensor A, Tensor B, Tensor W0);

    private static Problem LeastSquares()
    {
        using var g = new Generator(5);
        var a = randn([256, 64], generator: g);
        var wTrue = randn([64, 128], generator: g) * 0.5;
        var b = a.matmul(wTrue) + 0.01 * randn([256, 128], generator: g);
        var w0 = randn([64, 128], generator: g);
        return new Problem(a, b, w0);
    }

    private static Tensor Loss(Problem p, Tensor w) => (p.A.matmul(w) - p.B).pow(2).mean();

    private static AdamW8bit Optimizer(double weightDecay, params (string Name, Tensor Value)[] tensors) =>
        new([new ParameterGroup("all", weightDecay, tensors.Select(t => new OptimizedTensor(t.Name, t.Value)).ToArray())]);

    [Fact]
    public void UpdatesTrackFloat32AdamWOnALeastSquaresProblem()
    {
        var p = LeastSquares();
        const double lr = 1e-3, wd = 0.01;
        var w8 = new Parameter(p.W0.clone());
        var w32 = new Parameter(p.W0.clone());
        using var adam8 = Optimizer(wd, ("w", w8));
        using var adam32 = optim.AdamW([w32], lr, 0.9, 0.999, 1e-8, wd);
        double firstLoss = 0, lastLoss = 0;
        var t8 = new System.Diagnostics.Stopwatch(); var t32 = new System.Diagnostics.Stopwatch();
        for (int step = 0; step < 50; step++)
        {
            t8.Start();
            using (var scope = NewDisposeScope())
            {
                var loss = Loss(p, w8);
                if (step == 0) firstLoss = loss.item<float>();
                lastLoss = loss.item<float>();
                loss.backward();
                adam8.Step(lr, new Dictionary<string, Tensor> { ["w"] = w8.grad! });
                w8.grad = null;
            }
            t8.Stop(); t32.Start();
            using (var scope = NewDisposeScope())
            {
                adam32.zero_grad();
                Loss(p, w32).backward();
                adam32.step();
            }
            t32.Stop();
        }
        using var noGrad = no_grad();
        double difference = (w8 - w32).norm().item<float>();
        double relative = difference / w32.norm().item<float>();
        double ofUpdate = difference / (w32 - p.W0).norm().item<float>();
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "pefthost-adamw8bit.txt"),
            $"relative parameter difference after 50 steps: {relative:E3} (of the update: {ofUpdate:E3}); loss {firstLoss:F4} -> {lastLoss:F4}; {t8.ElapsedMilliseconds} ms 8-bit, {t32.ElapsedMilliseconds} ms fp32\n");
        Assert.True(relative < 1e-2, $"relative difference {relative:E3}");
        // 8-bit moments round every step: the trajectories part by a few percent of the total update
        // (with float32 state the same code tracks torch's AdamW to ~1e-5 of the update).
        Assert.True(ofUpdate < 0.1, $"difference relative to the update {ofUpdate:E3}");
        Assert.True(lastLoss < firstLoss);
    }

    [Fact]
    public void A_tensor_stepped_in_pieces_matches_its_block_aligned_parts_stepped_whole()
    {
        // A large tensor is decoded, updated and re-encoded a million values at a time (bounded temporaries). Pieces
        // start on block boundaries, so the result must equal stepping each piece as a tensor of its own.
        const long piece = 1L << 20, n = 2 * piece + 5000; // the last piece ends in a partial block (and is 8-bit alone too: ≥ 4096)
        using var g = new Generator(9);
        var start = randn([n], generator: g);
        var big = start.clone();
        var parts = new[] { start[..(int)piece].clone(), start[(int)piece..(int)(2 * piece)].clone(), start[(int)(2 * piece)..].clone() };
        using var whole = Optimizer(0.01, ("big", big));
        using var split = Optimizer(0.01, ("p0", parts[0]), ("p1", parts[1]), ("p2", parts[2]));
        for (int step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            var grad = randn([n], generator: g);
            if (step == 1) grad[5] = float.NaN; // a non-finite element resets its state in both
            whole.Step(1e-3, new Dictionary<string, Tensor> { ["big"] = grad });
            split.Step(1e-3, new Dictionary<string, Tensor>
            {
                ["p0"] = grad[..(int)piece], ["p1"] = grad[(int)piece..(int)(2 * piece)], ["p2"] = grad[(int)(2 * piece)..],
            });
        }
        Assert.True(big.eq(cat(parts, 0)).all().item<bool>(), "parameter values differ");
        var state = whole.State().Tensors.ToDictionary(kv => kv.Key, kv => kv.Value);
        var partState = split.State().Tensors.ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var key in new[] { "state1", "state2", "absmax1", "absmax2" })
        {
            var joined = cat(Enumerable.Range(0, 3).Select(i => partState[$"p{i}.{key}"]).ToArray(), 0);
            Assert.True(state[$"big.{key}"].eq(joined).all().item<bool>(), $"{key} differs");
        }
    }

    [Fact]
    public void StateIsAtMostThreeTenthsOfFloat32()
    {
        var w = new Parameter(randn(64, 128));
        var small = new Parameter(randn(10));
        using var adam = Optimizer(0, ("w", w), ("small", small));
        w.grad = randn(64, 128);
        small.grad = randn(10);
        adam.Step(1e-3, new Dictionary<string, Tensor> { ["w"] = w.grad!, ["small"] = small.grad! });
        long eightBit = 2 * 64 * 128 + 2 * 4 * (64 * 128 / 256); // codes + absmax
        Assert.Equal(eightBit + 2 * 4 * 10, adam.StateBytes);     // the small tensor keeps float32 state
        Assert.Equal(2 * 4 * (64 * 128 + 10), adam.Float32StateBytes);
        Assert.True(adam.StateBytes <= 0.3 * adam.Float32StateBytes, $"{adam.StateBytes} vs {adam.Float32StateBytes}");
    }

    [Fact]
    public void NonFiniteGradientsLeaveTheirElementsUnchanged()
    {
        var w = new Parameter(ones(64, 64));
        using var adam = Optimizer(0, ("w", w));
        var grad = ones(64, 64);
        grad[0, 0] = tensor(float.NaN);
        grad[1, 1] = tensor(float.PositiveInfinity);
        adam.Step(1e-2, new Dictionary<string, Tensor> { ["w"] = grad });
        Assert.Equal(1f, w[0, 0].item<float>());
        Assert.Equal(1f, w[1, 1].item<float>());
        Assert.True(w[2, 2].item<float>() < 1f);
        Assert.False(w.isnan().any().item<bool>());
    }
}
