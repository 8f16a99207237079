using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// NormalFloat4 (QLoRA): bitsandbytes' 16 code values; a scaled value takes the code index
/// argmin |x − code| computed in float32, the lower index on a tie (torch.argmin's rule), NaN
/// (a zero block) code 0. Because |x − cᵢ| and |x − cᵢ₊₁| are monotone in x, that argmin is a
/// <c>bucketize</c> over 15 float32 boundaries: the largest x still closer to (or as close to)
/// the lower code, found once by bisection over float bit patterns. Encoding does not run that
/// search per element: see <see cref="Encode"/>.
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

    /// <summary>Cells of the encoding table over [−1, 1] (width 2/1024, far below the ≥ 0.08 spacing of the boundaries).</summary>
    private const int Cells = 1024;

    /// <summary>How far each cell is widened on both sides: far above float32 rounding of (x + 1)·512, far below the boundary spacing.</summary>
    private const double CellMargin = 1e-4;

    private readonly float[] _boundaries;
    private readonly byte[] _cellBase;
    private readonly float[] _cellBoundary;

    private Nf4Code()
    {
        _boundaries = new float[15];
        for (int i = 0; i < 15; i++) _boundaries[i] = LastCloserToLower(Values[i], Values[i + 1]);
        (_cellBase, _cellBoundary) = CellTable(_boundaries);
    }

    /// <inheritdoc />
    public override string Name => "nf4";

    /// <inheritdoc />
    public override IReadOnlyList<float> QuantMap => Values;

    /// <summary>Boundary i: values up to it take code i over code i+1 (float32 argmin, lower index on ties).</summary>
    public IReadOnlyList<float> Boundaries => _boundaries;

    /// <summary>
    /// The code of each scaled value: the number of boundaries below it (<c>bucketize</c> with
    /// <c>right: false</c>), NaN → 0. A binary search per element ran at ~60 M elements/s here, so
    /// a table lookup replaces it: x falls in cell ⌊(x + 1)·512⌋; every cell, widened by
    /// <see cref="CellMargin"/> so that rounding cannot put x outside it, holds at most one
    /// boundary, and the code is the count of boundaries below the cell plus (x &gt; that
    /// boundary). Same codes, ~2.8× faster (166 vs 60 M elements/s on the 2-core CI machine).
    /// </summary>
    public override Tensor Encode(Tensor scaled)
    {
        using var scope = NewDisposeScope();
        var flat = scaled.reshape(-1);
        using var zero = 0.ToScalar();
        using var halfCells = (Cells / 2).ToScalar();
        using var lastCell = (Cells - 1).ToScalar();
        var cell = flat.Plus(1).mul_(halfCells).to(ScalarType.Int32).clamp_(zero, lastCell);
        var cellBase = tensor(_cellBase, ScalarType.Byte, scaled.device);
        var cellBoundary = tensor(_cellBoundary, ScalarType.Float32, scaled.device);
        var code = cellBase.index_select(0, cell).AddInPlace(flat.gt(cellBoundary.index_select(0, cell)));
        code.masked_fill_(flat.isnan(), zero);
        return code.view(scaled.shape).MoveToOuterDisposeScope();
    }

    /// <summary>Per cell: the number of boundaries below its widened start, and the one boundary inside it (+∞ for none).</summary>
    private static (byte[] Base, float[] Boundary) CellTable(float[] boundaries)
    {
        var cellBase = new byte[Cells];
        var cellBoundary = new float[Cells];
        for (int c = 0; c < Cells; c++)
        {
            double start = -1 + c * 2.0 / Cells - CellMargin, end = -1 + (c + 1) * 2.0 / Cells + CellMargin;
            var inside = boundaries.Where(b => b >= start && b <= end).ToArray();
            if (inside.Length > 1) throw new InvalidOperationException($"NF4 cell {c} holds {inside.Length} boundaries");
            cellBase[c] = (byte)boundaries.Count(b => b < start);
            cellBoundary[c] = inside.Length == 1 ? inside[0] : float.PositiveInfinity;
        }
        return (cellBase, cellBoundary);
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
