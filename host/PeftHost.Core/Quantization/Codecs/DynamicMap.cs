using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization.Codecs;

/// <summary>
/// bitsandbytes' "dynamic" 8-bit code (<c>create_dynamic_map</c>, 7 exponent bits): for each
/// exponent i = 0..6 the midpoints of a float32 <c>linspace(0.1, 1, k)</c> (k = 2^i + 1 signed,
/// 2^(i+1) + 1 unsigned) scaled by 10^(i−6), mirrored to negative values for the signed code,
/// plus 0 and 1, sorted: 256 values in [−1, 1] (signed) or [0, 1] (unsigned). The arithmetic is
/// libtorch's own float32 linspace, mean and scalar multiply, exactly as PyTorch evaluates them.
/// </summary>
/// <remarks>Shared by Core (8-bit optimizer state) and the quantization plugin (linked source).</remarks>
internal static class DynamicMap
{
    private const int MaxExponentBits = 7;
    private const int NonSignBits = 7; // total_bits − 1, for both signed and unsigned maps

    private static readonly Lazy<float[]> SignedValues = new(() => Build(signed: true));
    private static readonly Lazy<float[]> UnsignedValues = new(() => Build(signed: false));

    /// <summary>The 256 sorted values of the signed (<paramref name="signed"/>) or unsigned map.</summary>
    public static float[] Values(bool signed) => signed ? SignedValues.Value : UnsignedValues.Value;

    /// <summary>The map as a float32 tensor [256] on <paramref name="device"/>.</summary>
    public static Tensor Create(bool signed, Device? device = null) =>
        tensor(Values(signed), ScalarType.Float32, device ?? CPU);

    private static float[] Build(bool signed)
    {
        var data = new List<float>(256);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            for (int i = 0; i < MaxExponentBits; i++)
            {
                int items = signed
                    ? (1 << (i + NonSignBits - MaxExponentBits)) + 1
                    : (1 << (i + NonSignBits - MaxExponentBits + 1)) + 1;
                var boundaries = linspace(0.1, 1.0, items, ScalarType.Float32, CPU);
                var means = boundaries[..^1].Plus(boundaries[1..]).DividedBy(2.0);
                // Python's 10 ** (i − 6): a float pow for negative exponents, the int 1 for i = 6.
                double scale = Math.Pow(10, -(MaxExponentBits - 1) + i);
                data.AddRange(means.Times(scale).data<float>().ToArray());
                if (signed) data.AddRange(means.Times(-scale).data<float>().ToArray());
            }
        }
        data.Add(0f);
        data.Add(1f);
        if (data.Count != 256) throw new InvalidOperationException($"dynamic map has {data.Count} values, expected 256");
        data.Sort();
        return data.ToArray();
    }
}
