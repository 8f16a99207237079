using PeftHost.Core.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Training;

public class AdamWOptimizerTests
{
    [Fact]
    public void Matches_torch_adamw_with_decay_only_on_matrices()
    {
        using var g = new Generator(3);
        var w0 = randn([4, 3], generator: g);
        var b0 = randn([3], generator: g);
        var grads = Enumerable.Range(0, 4).Select(_ => (randn([4, 3], generator: g), randn([3], generator: g))).ToArray();

        var w = w0.clone();
        var b = b0.clone();
        var ours = new AdamWOptimizer(ParameterGroup.DecayAndNoDecay([new("w", w), new("b", b)], weightDecay: 0.1), 0.9, 0.95, 1e-8);
        Assert.Equal(["decay", "no_decay"], ours.Groups.Select(x => x.Name));

        var tw = new TorchSharp.Modules.Parameter(w0.clone());
        var tb = new TorchSharp.Modules.Parameter(b0.clone());
        var reference = torch.optim.AdamW(
            [new TorchSharp.Modules.AdamW.ParamGroup([tw], new TorchSharp.Modules.AdamW.Options { weight_decay = 0.1 }),
             new TorchSharp.Modules.AdamW.ParamGroup([tb], new TorchSharp.Modules.AdamW.Options { weight_decay = 0.0 })],
            lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8);

        foreach (var (gw, gb) in grads)
        {
            ours.Step(0.01, new Dictionary<string, Tensor> { ["w"] = gw, ["b"] = gb });
            reference.zero_grad();
            ((tw * gw).sum() + (tb * gb).sum()).backward();
            reference.step();
        }
        Assert.True((w - tw).abs().max().item<float>() < 1e-6);
        Assert.True((b - tb).abs().max().item<float>() < 1e-6);
    }

    [Fact]
    public void State_round_trips_and_survives_rebinding_by_name()
    {
        var w = ones(2, 2);
        var opt = new AdamWOptimizer([new ParameterGroup("all", 0, [new("w", w)])]);
        opt.Step(0.1, new Dictionary<string, Tensor> { ["w"] = full([2, 2], 0.5f) });
        var (tensors, steps) = opt.State();
        Assert.Equal(1, steps["w"]);
        var saved = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var w2 = w.clone();
        var restored = new AdamWOptimizer([new ParameterGroup("all", 0, [new("w", w2)])]);
        restored.LoadState(k => saved.GetValueOrDefault(k), steps);
        opt.Step(0.1, new Dictionary<string, Tensor> { ["w"] = full([2, 2], -0.25f) });
        restored.Step(0.1, new Dictionary<string, Tensor> { ["w"] = full([2, 2], -0.25f) });
        Assert.Equal(0f, (w - w2).abs().max().item<float>());

        var w3 = w.clone();
        opt.Rebind([new ParameterGroup("all", 0, [new("w", w3), new("new", zeros(3))])]);
        Assert.Equal(2, opt.State().Steps["w"]);
        Assert.Equal(0, opt.State().Steps["new"]);
    }
}
