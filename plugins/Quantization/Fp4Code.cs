using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// bitsandbytes' FP4 (E2M1, bias 3): the sign bit (8) is set when x &lt; 0 — so a small negative
/// value gets code 8, "−0" — and the magnitude follows the CUDA kernel's decision tree
/// (<c>dQuantizeFP4</c>): comparisons <c>|x| &gt; t</c> with its float thresholds, a tie going to
/// the smaller magnitude, NaN to code 0. As tensor ops: a <c>bucketize</c> of |x| over the seven
/// sorted thresholds, then the magnitude code of each bucket.
/// </summary>
public sealed class Fp4Code : FourBitCode
{
    /// <summary>The tree's thresholds on |x|, sorted.</summary>
    public static readonly float[] Thresholds = [0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f];

    /// <summary>The 3-bit magnitude code of each bucket (0 = smallest magnitude).</summary>
    public static readonly byte[] BucketCodes = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011];

    /// <summary>The raw code values before division by 12 (bitsandbytes' <c>get_4bit_type("fp4")</c>).</summary>
    public static readonly float[] RawValues = [0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f, -0f, -0.0625f, -8f, -12f, -4f, -6f, -2f, -3f];

    /// <summary>The shared instance.</summary>
    public static readonly Fp4Code Instance = new();

    private readonly float[] _quantMap = RawValues.Select(v => v / 12f).ToArray();

    private Fp4Code() { }

    /// <inheritdoc />
    public override string Name => "fp4";

    /// <inheritdoc />
    public override IReadOnlyList<float> QuantMap => _quantMap;

    /// <inheritdoc />
    public override Tensor Encode(Tensor scaled)
    {
        using var scope = NewDisposeScope();
        var thresholds = tensor(Thresholds, ScalarType.Float32, scaled.device);
        var magnitudeCodes = tensor(BucketCodes, ScalarType.Byte, scaled.device);
        var bucket = bucketize(scaled.abs(), thresholds, outInt32: true, right: false);
        bucket = where(scaled.isnan(), zeros_like(bucket), bucket);
        var magnitude = magnitudeCodes.index_select(0, bucket.reshape(-1)).reshape(scaled.shape);
        using var zero = 0.ToScalar();
        var sign = scaled.lt(zero).to(ScalarType.Byte).Times(8);
        return magnitude.Plus(sign).to(ScalarType.Byte).MoveToOuterDisposeScope();
    }
}
