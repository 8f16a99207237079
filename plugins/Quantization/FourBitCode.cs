using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>A 16-value 4-bit data type: its code table and how a scaled value in [−1, 1] picks a code.</summary>
public abstract class FourBitCode
{
    /// <summary>bitsandbytes' name: nf4 or fp4.</summary>
    public abstract string Name { get; }

    /// <summary>The 16 float32 values a code stands for (bitsandbytes' <c>quant_map</c>), indexed by code.</summary>
    public abstract IReadOnlyList<float> QuantMap { get; }

    /// <summary>Code indices (uint8 in 0..15, same shape) of float32 values already scaled by 1/absmax.</summary>
    public abstract Tensor Encode(Tensor scaled);

    /// <summary>The code table as a float32 tensor [16].</summary>
    public Tensor QuantMapTensor(Device? device = null) => tensor(QuantMap.ToArray(), ScalarType.Float32, device ?? CPU);

    /// <summary>The code for <paramref name="name"/> (nf4 or fp4).</summary>
    public static FourBitCode ForName(string name) => name switch
    {
        "nf4" => Nf4Code.Instance,
        "fp4" => Fp4Code.Instance,
        _ => throw new ArgumentException($"unknown 4-bit type '{name}' (expected nf4 or fp4)"),
    };
}
