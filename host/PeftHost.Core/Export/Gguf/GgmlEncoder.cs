using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Export.Gguf;

/// <summary>
/// Encodes a float tensor into a ggml type's bytes with tensor operations (no per-element loops), following
/// gguf-py's <c>quants.py</c>, which is bit-exact with ggml's reference quantizers:
/// Q8_0: d = max|x| / 127, q = round-half-away(x · (1/d)); Q4_0: m = the element of largest magnitude (first on a
/// tie), d = m / −8, q = min(15, trunc(x · (1/d) + 8.5)) with the product taken in float64, the first 16 codes in the
/// low nibbles and the last 16 in the high nibbles. Each block starts with d as an IEEE half.
/// </summary>
public static class GgmlEncoder
{
    /// <summary>The bytes of <paramref name="tensor"/> (any float dtype, any device) in <paramref name="type"/>.</summary>
    public static byte[] Encode(Tensor tensor, GgmlType type)
    {
        using var scope = NewDisposeScope();
        var x = tensor.detach().to(ScalarType.Float32, CPU).contiguous();
        return type switch
        {
            GgmlType.F32 => Bytes(x),
            GgmlType.F16 => Bytes(x.to(ScalarType.Float16)),
            GgmlType.BF16 => Bytes(x.to(ScalarType.BFloat16)),
            GgmlType.Q8_0 => Q8_0(Blocks(x, type)),
            GgmlType.Q4_0 => Q4_0(Blocks(x, type)),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }

    /// <summary>Whether rows of <paramref name="shape"/> divide into <paramref name="type"/>'s blocks.</summary>
    public static bool CanEncode(long[] shape, GgmlType type) => shape.Length > 0 && shape[^1] % GgmlTypes.BlockLayout(type).BlockSize == 0;

    private static Tensor Blocks(Tensor x, GgmlType type)
    {
        if (!CanEncode(x.shape, type)) GgmlTypes.ByteSize(type, x.shape); // throws the explanation
        return x.reshape(-1, GgmlTypes.BlockLayout(type).BlockSize);
    }

    // Each quantizer makes few passes over the full tensor (an export is bound by memory traffic): the math runs in place
    // on one working copy, and the scale bytes and codes are written straight into the block layout, with no concatenation.

    private static byte[] Q8_0(Tensor blocks)
    {
        using var zero = 0.ToScalar();
        var a = blocks.abs();
        var d = a.amax([1], keepdim: true).DividedBy(127f);
        var id = where(d.eq(zero), zeros_like(d), d.reciprocal());
        // |x·id| = |x|·id exactly (id ≥ 0), rounded half away from zero as gguf-py's np_roundf, then x's sign.
        var q = RoundHalfAwayFromZero(a.mul_(id)).copysign_(blocks).to(ScalarType.Int8);
        return Layout(d, q);
    }

    private static byte[] Q4_0(Tensor blocks)
    {
        using var zero = 0.ToScalar();
        using var eightAndAHalf = 8.5.ToScalar();
        using var fifteen = 15.ToScalar();
        using var sixteen = 16.ToScalar();
        var index = blocks.abs().argmax(1, keepdim: true);
        var d = blocks.gather(1, index).DividedBy(-8f);
        var id = where(d.eq(zero), zeros_like(d), d.reciprocal());
        // x·id + 8.5 lies in [0.5, 16.5]: the conversion to bytes truncates, as gguf-py's trunc, and only 16 needs clamping.
        var q = blocks.to(ScalarType.Float64).mul_(id.to(ScalarType.Float64)).add_(eightAndAHalf, TensorArithmetic.One).to(ScalarType.Byte).clamp_max_(fifteen);
        var packed = q.narrow(1, 0, 16).add_(q.narrow(1, 16, 16), alpha: sixteen);
        return Layout(d, packed);
    }

    /// <summary>
    /// gguf-py's <c>np_roundf</c> of a ≥ 0, floor(a) + floor(2·(a − floor(a))), in place as floor(a + 0.49999997f): the sum is
    /// exact or rounds to the nearest float as round-half-away needs (a = k + ½ gives k + 1 − 2⁻²⁵, which rounds up to k + 1;
    /// the float just below ½ gives 1 − 2⁻²⁴, which stays below 1), where floor(a + ½) would round 0.49999997 up to 1.
    /// </summary>
    private static Tensor RoundHalfAwayFromZero(Tensor a)
    {
        using var justBelowHalf = 0.49999997f.ToScalar();
        return a.add_(justBelowHalf, TensorArithmetic.One).floor_();
    }

    /// <summary>Blocks of [scale as IEEE half (little-endian), codes]: <paramref name="d"/> [n, 1], <paramref name="codes"/> [n, k] (one byte each).</summary>
    private static byte[] Layout(Tensor d, Tensor codes)
    {
        var blocks = empty([codes.shape[0], 2 + codes.shape[1]], ScalarType.Byte);
        blocks.narrow(1, 0, 2).copy_(tensor(Bytes(d.to(ScalarType.Float16)), ScalarType.Byte).reshape(-1, 2));
        // int8 codes are stored as their two's-complement bytes: the integer conversion wraps, as a reinterpretation would.
        blocks.narrow(1, 2, codes.shape[1]).copy_(codes);
        return Bytes(blocks);
    }

    private static byte[] Bytes(Tensor t) => t.contiguous().bytes.ToArray();
}
