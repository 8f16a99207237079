using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>
/// Root-mean-square layer norm, computed in fp32 as Hugging Face's LlamaRMSNorm does; Gemma's variant scales by
/// (1 + weight) in fp32 before casting back (GemmaRMSNorm), so its weights are stored as offsets from 1.
/// </summary>
public sealed class RmsNorm : PeftHost.Sdk.CanonicalModule<Tensor, Tensor>
{
    private readonly double _eps;
    private readonly bool _weightIsOffset;

    /// <summary>Creates the norm with a scale of width <paramref name="size"/>, in <paramref name="config"/>'s family's variant.</summary>
    public RmsNorm(ParameterFactory factory, long size, ModelConfig config) : base(nameof(RmsNorm))
    {
        _eps = config.RmsNormEps;
        _weightIsOffset = config.NormWeightIsOffset;
        register_parameter("weight", factory.NormScale(size, identity: _weightIsOffset ? 0 : 1));
    }

    /// <summary>The learned scale (read from the registry: <c>to(dtype)</c> replaces the parameter object).</summary>
    public Parameter Weight => get_parameter("weight")!;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inputDtype = x.dtype;
        using var two = 2.ToScalar();
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * rsqrt(x32.pow(two).mean([-1], keepdim: true).Plus(_eps));
        var scaled = _weightIsOffset
            ? (normed * Weight.to(ScalarType.Float32).Plus(1)).to(inputDtype)
            : Weight * normed.to(inputDtype);
        return scaled.MoveToOuterDisposeScope();
    }
}
