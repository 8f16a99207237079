using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// NormalFloat4 (QLoRA): bitsandbytes' 16 code values; a scaled value takes the code index
/// argmin |x − code| computed in float32, the lower index on a tie (torch.argmin's rule), NaN
/// (a zero block) code 0. Because |x − cᵢ| and |x − cᵢ₊₁| are monotone in x, that argmin is a
/// <c>bucketize</c> over 15 float32 boundaries: the largest x still closer to (or as close to)
/// the lower code, found once by bisection over float bit patterns.
/// </summary>
public sealed class Nf4Code : FourBitCode
{
    /// <summary>The code values, as bitsandbytes lists them.</summary>
    public static readonly float[] Values =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>The shared instance.</summary>
    public static readonly Nf4Code Instance = new();

    private readonly float[] _boundaries;

    private Nf4Code()
    {
        _boundaries = new float[15];
        for (int i = 0; i < 15; i++) _boundaries[i] = LastCloserToLower(Values[i], Values[i + 1]);
    }

    /// <inheritdoc />
    public override string Name => "nf4";

    /// <inheritdoc />
    public override IReadOnlyList<float> QuantMap => Values;

    /// <summary>Boundary i: values up to it take code i over code i+1 (float32 argmin, lower index on ties).</summary>
    public IReadOnlyList<float> Boundaries => _boundaries;

    /// <inheritdoc />
    public override Tensor Encode(Tensor scaled)
    {
        using var scope = NewDisposeScope();
        var boundaries = tensor(_boundaries, ScalarType.Float32, scaled.device);
        var index = bucketize(scaled, boundaries, outInt32: true, right: false);
        index = where(scaled.isnan(), zeros_like(index), index);
        return index.to(ScalarType.Byte).MoveToOuterDisposeScope();
    }

    /// <summary>The largest float x in [lo, hi] with |x − lo| ≤ |x − hi| in float32 arithmetic.</summary>
    private static float LastCloserToLower(float lo, float hi)
    {
        static bool CloserToLower(float x, float lo, float hi) => MathF.Abs(x - lo) <= MathF.Abs(x - hi);
        // Bisect over the ordered float line between lo (closer) and hi (not closer).
        float a = lo, b = hi;
        while (MathF.BitIncrement(a) < b)
        {
            float mid = Midpoint(a, b);
            if (CloserToLower(mid, lo, hi)) a = mid; else b = mid;
        }
        return a;
    }

    /// <summary>A float strictly between a and b (a &lt; b, not adjacent), halfway in the ordered float line.</summary>
    private static float Midpoint(float a, float b)
    {
        long ka = OrderedKey(a), kb = OrderedKey(b);
        return FromOrderedKey(ka + (kb - ka) / 2);
    }

    private static long OrderedKey(float f)
    {
        int bits = BitConverter.SingleToInt32Bits(f);
        return bits >= 0 ? bits : -(long)(bits & int.MaxValue);
    }

    private static float FromOrderedKey(long key) =>
        key >= 0 ? BitConverter.Int32BitsToSingle((int)key) : BitConverter.Int32BitsToSingle((int)(-key) | int.MinValue);
}
