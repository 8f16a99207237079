using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Models;

/// <summary>
/// The gated feed-forward block: down(act(gate(x)) · up(x)), with SiLU (SwiGLU) or tanh-approximated GELU (Gemma's
/// GeGLU). Phi-3 computes gate and up in one projection, gate_up_proj, whose first half of outputs is the gate.
/// </summary>
public sealed class LlamaMlp : HfModule
{
    private static readonly string[] SeparateChildren = ["gate_proj", "up_proj", "down_proj"];
    private static readonly string[] FusedChildren = ["gate_up_proj", "down_proj"];
    private nn.Module<Tensor, Tensor>? _gate, _up, _gateUp;
    private nn.Module<Tensor, Tensor> _down;
    private readonly bool _gelu;

    /// <summary>Builds the projections.</summary>
    public LlamaMlp(ModelConfig config, ParameterFactory factory) : base("mlp")
    {
        _gelu = config.HiddenActivation == "gelu_pytorch_tanh";
        if (config.FusedProjections)
        {
            _gateUp = factory.Linear(config.HiddenSize, 2L * config.IntermediateSize, config.MlpBias);
            register_module("gate_up_proj", _gateUp);
        }
        else
        {
            _gate = factory.Linear(config.HiddenSize, config.IntermediateSize, config.MlpBias);
            _up = factory.Linear(config.HiddenSize, config.IntermediateSize, config.MlpBias);
            register_module("gate_proj", _gate);
            register_module("up_proj", _up);
        }
        _down = factory.Linear(config.IntermediateSize, config.HiddenSize, config.MlpBias);
        register_module("down_proj", _down);
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> ReplaceableChildren => _gateUp is null ? SeparateChildren : FusedChildren;

    /// <inheritdoc />
    protected override void SetChild(string childName, nn.Module<Tensor, Tensor> module)
    {
        switch (childName)
        {
            case "gate_proj": _gate = module; break;
            case "up_proj": _up = module; break;
            case "gate_up_proj": _gateUp = module; break;
            case "down_proj": _down = module; break;
        }
    }

    internal Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor gate, up;
        if (_gateUp is not null)
        {
            var both = FloatMatVec.Forward(_gateUp, x).chunk(2, -1);
            (gate, up) = (both[0], both[1]);
        }
        else (gate, up) = (FloatMatVec.Forward(_gate!, x), FloatMatVec.Forward(_up!, x));
        var activated = _gelu ? F.gelu(gate, TorchSharp.Modules.GELU.Approximate.tanh) : F.silu(gate);
        return FloatMatVec.Forward(_down, activated * up).MoveToOuterDisposeScope();
    }
}
