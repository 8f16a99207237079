using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>Root-mean-square layer norm, computed in fp32 as Hugging Face's LlamaRMSNorm does.</summary>
public sealed class RmsNorm : PeftHost.Sdk.CanonicalModule<Tensor, Tensor>
{
    private readonly double _eps;

    /// <summary>Creates the norm with a scale of width <paramref name="size"/>.</summary>
    public RmsNorm(ParameterFactory factory, long size, double eps) : base(nameof(RmsNorm))
    {
        _eps = eps;
        register_parameter("weight", factory.NormScale(size));
    }

    /// <summary>The learned scale (read from the registry: <c>to(dtype)</c> replaces the parameter object).</summary>
    public Parameter Weight => get_parameter("weight")!;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inputDtype = x.dtype;
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * rsqrt(x32.pow(2).mean([-1], keepdim: true) + _eps);
        return (Weight * normed.to(inputDtype)).MoveToOuterDisposeScope();
    }
}
