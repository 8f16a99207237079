using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization.Codecs;

/// <summary>
/// Nearest-entry search in a sorted 256-value code, with the decisions of bitsandbytes' CUDA
/// quantizer (<c>dQuantize</c>): a 7-step binary search from index 127 that always ends on an
/// even pivot, then a comparison with the float32 midpoint <c>(a + b) · 0.5</c> of the two
/// neighbours. Between entries j and j+1 the result is j+1 when x &gt; midpoint for even j and
/// when x ≥ midpoint for odd j; NaN (a zero block: 0·(1/0)) gives 0. As tensor ops this is one
/// <c>bucketize</c> over the 255 midpoints, odd ones lowered by one ulp.
/// </summary>
/// <remarks>Shared by Core (8-bit optimizer state) and the quantization plugin (linked source).</remarks>
internal sealed class CodebookSearch
{
    private readonly float[] _thresholds;

    /// <summary>Prepares the search over <paramref name="code"/> (sorted ascending, 256 values).</summary>
    public CodebookSearch(float[] code)
    {
        if (code.Length != 256) throw new ArgumentException($"expected a 256-value code, got {code.Length}");
        Code = code;
        _thresholds = new float[255];
        for (int j = 0; j < 255; j++)
        {
            float midpoint = (code[j] + code[j + 1]) * 0.5f;
            _thresholds[j] = j % 2 == 0 ? midpoint : MathF.BitDecrement(midpoint);
        }
    }

    /// <summary>The code searched.</summary>
    public float[] Code { get; }

    /// <summary>The 255 decision boundaries: index = number of boundaries strictly below x.</summary>
    public IReadOnlyList<float> Thresholds => _thresholds;

    /// <summary>Code indices (uint8, same shape) of the float32 values <paramref name="scaled"/>.</summary>
    public Tensor Encode(Tensor scaled)
    {
        using var scope = NewDisposeScope();
        var boundaries = tensor(_thresholds, ScalarType.Float32, scaled.device);
        var index = bucketize(scaled, boundaries, outInt32: true, right: false);
        index = where(scaled.isnan(), zeros_like(index), index);
        return index.to(ScalarType.Byte).MoveToOuterDisposeScope();
    }
}
