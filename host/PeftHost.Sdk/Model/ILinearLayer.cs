using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// A linear layer whose weight is not a plain parameter (a 4-bit or 8-bit quantized layer).
/// Adapters wrap it like a <see cref="Linear"/>: they call its forward and, to merge,
/// read and write its weight through this interface.
/// </summary>
public interface ILinearLayer
{
    /// <summary>Input features.</summary>
    long InFeatures { get; }

    /// <summary>Output features.</summary>
    long OutFeatures { get; }

    /// <summary>The bias, if any (kept in full precision).</summary>
    Tensor? Bias { get; }

    /// <summary>The weight [out, in] materialised in <paramref name="dtype"/> (dequantized if needed). The caller disposes it.</summary>
    Tensor ReadWeight(ScalarType dtype);

    /// <summary>Replaces the weight with <paramref name="weight"/> [out, in], re-quantizing if the layer is quantized.</summary>
    void WriteWeight(Tensor weight);
}

/// <summary>Uniform access to plain <see cref="Linear"/> layers and <see cref="ILinearLayer"/>s.</summary>
public static class LinearLayers
{
    /// <summary>True for modules an adapter can treat as a linear layer.</summary>
    public static bool IsLinear(nn.Module module) => module is Linear or ILinearLayer;

    /// <summary>(in, out) features of a linear module.</summary>
    public static (long In, long Out) Features(nn.Module module) => module switch
    {
        Linear l => (l.weight!.shape[1], l.weight!.shape[0]),
        ILinearLayer q => (q.InFeatures, q.OutFeatures),
        _ => throw new ArgumentException($"{module.GetName()} is not a linear layer"),
    };

    /// <summary>The weight [out, in] as <paramref name="dtype"/>; a new tensor the caller disposes.</summary>
    public static Tensor ReadWeight(nn.Module module, ScalarType dtype)
    {
        using var _ = no_grad();
        return module switch
        {
            Linear l => l.weight!.detach().to(dtype, copy: true),
            ILinearLayer q => q.ReadWeight(dtype),
            _ => throw new ArgumentException($"{module.GetName()} is not a linear layer"),
        };
    }

    /// <summary>Overwrites the weight of a linear module in place (cast to its own dtype).</summary>
    public static void WriteWeight(nn.Module module, Tensor weight)
    {
        using var _ = no_grad();
        switch (module)
        {
            case Linear l: l.weight!.copy_(weight); break;
            case ILinearLayer q: q.WriteWeight(weight); break;
            default: throw new ArgumentException($"{module.GetName()} is not a linear layer");
        }
    }
}
