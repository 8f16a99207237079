using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>Root-mean-square layer norm, computed in fp32 as Hugging Face's LlamaRMSNorm does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>
    /// Children and parameters are registered explicitly under their Hugging Face names;
    /// TorchSharp's reflection-based registration would add aliases under the C# field names.
    /// </summary>
    protected override void RegisterComponents() { }

    private readonly Parameter _weight;
    private readonly double _eps;

    /// <summary>Creates the norm with a scale of width <paramref name="size"/>.</summary>
    public RmsNorm(ParameterFactory factory, long size, double eps) : base(nameof(RmsNorm))
    {
        _weight = factory.NormScale(size);
        _eps = eps;
        register_parameter("weight", _weight);
    }

    /// <summary>The learned scale.</summary>
    public Parameter Weight => _weight;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inputDtype = x.dtype;
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * rsqrt(x32.pow(2).mean([-1], keepdim: true) + _eps);
        return (_weight * normed.to(inputDtype)).MoveToOuterDisposeScope();
    }
}
