using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Models;

/// <summary>The SwiGLU feed-forward block: down(silu(gate(x)) · up(x)).</summary>
public sealed class LlamaMlp : HfModule
{
    private static readonly string[] Children = ["gate_proj", "up_proj", "down_proj"];
    private nn.Module<Tensor, Tensor> _gate, _up, _down;

    /// <summary>Builds the three projections.</summary>
    public LlamaMlp(ModelConfig config, ParameterFactory factory) : base("mlp")
    {
        _gate = factory.Linear(config.HiddenSize, config.IntermediateSize, config.MlpBias);
        _up = factory.Linear(config.HiddenSize, config.IntermediateSize, config.MlpBias);
        _down = factory.Linear(config.IntermediateSize, config.HiddenSize, config.MlpBias);
        register_module("gate_proj", _gate);
        register_module("up_proj", _up);
        register_module("down_proj", _down);
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> ReplaceableChildren => Children;

    /// <inheritdoc />
    protected override void SetChild(string childName, nn.Module<Tensor, Tensor> module)
    {
        switch (childName)
        {
            case "gate_proj": _gate = module; break;
            case "up_proj": _up = module; break;
            case "down_proj": _down = module; break;
        }
    }

    internal Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return _down.forward(F.silu(_gate.forward(x)) * _up.forward(x)).MoveToOuterDisposeScope();
    }
}
