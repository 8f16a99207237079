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

    private static byte[] Q8_0(Tensor blocks)
    {
        var d = blocks.abs().amax([1], keepdim: true) / 127f;
        var id = where(d.eq(0), zeros_like(d), d.reciprocal());
        var q = RoundHalfAwayFromZero(blocks * id).to(ScalarType.Int32);
        // int8 two's complement written as uint8 without a reinterpreting view.
        var codes = (q + 256).remainder(256).to(ScalarType.Byte);
        return Bytes(cat([HalfBytes(d), codes], 1));
    }

    private static byte[] Q4_0(Tensor blocks)
    {
        var index = blocks.abs().argmax(1, keepdim: true);
        var max = blocks.gather(1, index);
        var d = max / -8f;
        var id = where(d.eq(0), zeros_like(d), d.reciprocal());
        var q = (blocks.to(ScalarType.Float64) * id.to(ScalarType.Float64) + 8.5).trunc().clamp(0, 15).to(ScalarType.Byte);
        var packed = q.narrow(1, 0, 16).bitwise_or(q.narrow(1, 16, 16) * 16);
        return Bytes(cat([HalfBytes(d), packed], 1));
    }

    /// <summary>gguf-py's <c>np_roundf</c>: |x| rounded half away from zero as floor(a) + floor(2·(a − floor(a))).</summary>
    private static Tensor RoundHalfAwayFromZero(Tensor x)
    {
        var a = x.abs();
        var floored = a.floor();
        return x.sign() * (floored + (2 * (a - floored)).floor());
    }

    /// <summary>Per-block scales [n, 1] as their IEEE half bytes [n, 2] (little-endian).</summary>
    private static Tensor HalfBytes(Tensor d)
    {
        var bytes = Bytes(d.to(ScalarType.Float16));
        return tensor(bytes, ScalarType.Byte).reshape(-1, 2);
    }

    private static byte[] Bytes(Tensor t) => t.contiguous().bytes.ToArray();
}
