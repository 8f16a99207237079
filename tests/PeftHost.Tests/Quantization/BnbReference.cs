namespace PeftHost.Tests.Quantization;

/// <summary>
/// An independent, scalar re-statement of bitsandbytes' published procedures (plain loops over
/// small arrays), for checking the tensor implementations bit for bit.
/// </summary>
internal static class BnbReference
{
    public static readonly float[] Nf4 =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>NF4: argmin |s − code| in float32, first index on a tie; NaN → 0 (torch.argmin returns the NaN's index).</summary>
    public static byte Nf4Index(float s)
    {
        if (float.IsNaN(s)) return 0;
        s = Math.Clamp(s, -1f, 1f);
        int best = 0;
        float bestDistance = MathF.Abs(s - Nf4[0]);
        for (int i = 1; i < 16; i++)
        {
            float d = MathF.Abs(s - Nf4[i]);
            if (d < bestDistance) { best = i; bestDistance = d; }
        }
        return (byte)best;
    }

    /// <summary>FP4: the CUDA kernel's dQuantizeFP4 decision tree, written out.</summary>
    public static byte Fp4Index(float x)
    {
        int sign = x < 0 ? 0b1000 : 0;
        x = MathF.Abs(x);
        int code;
        if (x > 0.29166667f)
            code = x > 0.583333f ? (x > 0.8333333f ? 0b0011 : 0b0010) : (x > 0.4166667f ? 0b101 : 0b100);
        else if (x > 0.0859375f)
            code = x > 0.20833333f ? 0b0111 : 0b0110;
        else
            code = x > 0.00260417f ? 0b0001 : 0b0000;
        return (byte)(code + sign);
    }

    /// <summary>bitsandbytes' FP4 quant_map: the E2M1 values over 12.</summary>
    public static float[] Fp4Map() => new[] { 0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f, -0f, -0.0625f, -8f, -12f, -4f, -6f, -2f, -3f }.Select(v => v / 12f).ToArray();

    /// <summary>The CUDA kernel's dQuantize (non-stochastic): binary search from pivot 127, then midpoints.</summary>
    public static byte DQuantize(float[] code, float x)
    {
        int pivot = 127, upperPivot = 255, lowerPivot = 0;
        float lower = -1.0f, upper = 1.0f;
        float val = code[pivot];
        for (int i = 64; i > 0; i >>= 1)
        {
            if (x > val) { lowerPivot = pivot; lower = val; pivot += i; }
            else { upperPivot = pivot; upper = val; pivot -= i; }
            val = code[pivot];
        }
        if (upperPivot == 255) upper = code[upperPivot];
        if (lowerPivot == 0) lower = code[lowerPivot];
        if (x > val)
        {
            float midpoint = (upper + val) * 0.5f;
            return (byte)(x > midpoint ? upperPivot : pivot);
        }
        else
        {
            float midpoint = (lower + val) * 0.5f;
            return (byte)(x < midpoint ? lowerPivot : pivot);
        }
    }

    /// <summary>Blockwise absmax and per-element scaled values x · (1/absmax), float32.</summary>
    public static (float[] Absmax, float[] Scaled) Scale(float[] x, int blockSize)
    {
        int blocks = (x.Length + blockSize - 1) / blockSize;
        var absmax = new float[blocks];
        var scaled = new float[x.Length];
        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize, end = Math.Min(x.Length, start + blockSize);
            float m = 0f;
            for (int i = start; i < end; i++) m = MathF.Max(m, MathF.Abs(x[i]));
            absmax[b] = m;
            float reciprocal = 1.0f / m;
            for (int i = start; i < end; i++) scaled[i] = x[i] * reciprocal;
        }
        return (absmax, scaled);
    }

    /// <summary>4-bit quantization: packed bytes (high nibble first; an odd tail nibble is a 0 of the last block) and absmax.</summary>
    public static (byte[] Packed, float[] Absmax) Quantize4Bit(float[] x, int blockSize, Func<float, byte> index)
    {
        var (absmax, scaled) = Scale(x, blockSize);
        var codes = scaled.Select(index).ToList();
        if (x.Length % 2 == 1) codes.Add(index(0f * (1.0f / absmax[^1])));
        var packed = new byte[codes.Count / 2];
        for (int k = 0; k < packed.Length; k++) packed[k] = (byte)((codes[2 * k] << 4) | codes[2 * k + 1]);
        return (packed, absmax);
    }

    /// <summary>Blockwise 8-bit codes and absmax with <paramref name="code"/>.</summary>
    public static (byte[] Codes, float[] Absmax) Quantize8Bit(float[] x, int blockSize, float[] code)
    {
        var (absmax, scaled) = Scale(x, blockSize);
        return (scaled.Select(s => DQuantize(code, s)).ToArray(), absmax);
    }

    /// <summary>
    /// libtorch's CPU float32 linspace: step = (end − start)/(n − 1); element i is
    /// fma(step, i, start) in the first half and fma(−step, n − 1 − i, end) in the second (the
    /// kernel's a·b + c is contracted to one fused multiply-add).
    /// </summary>
    public static float[] Linspace(float start, float end, int n)
    {
        float step = (end - start) / (n - 1);
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = i < n / 2 ? MathF.FusedMultiplyAdd(step, i, start) : MathF.FusedMultiplyAdd(-step, n - i - 1, end);
        return v;
    }

    /// <summary>create_dynamic_map(signed): float32 linspace, midpoints (a + b)/2, times (float)10^(i−6).</summary>
    public static float[] DynamicMap(bool signed)
    {
        var data = new List<float>();
        for (int i = 0; i < 7; i++)
        {
            int items = signed ? (1 << i) + 1 : (1 << (i + 1)) + 1;
            var b = Linspace(0.1f, 1.0f, items);
            float scale = (float)Math.Pow(10, -6 + i);
            for (int j = 0; j + 1 < b.Length; j++)
            {
                float mean = (b[j] + b[j + 1]) / 2.0f;
                data.Add(mean * scale);
                if (signed) data.Add(mean * -scale);
            }
        }
        data.Add(0f);
        data.Add(1f);
        data.Sort();
        return data.ToArray();
    }

    /// <summary>A fixed pseudo-random float in (−1, 1): no RNG state involved.</summary>
    public static float Wave(int i) => MathF.Sin(i * 12.9898f + 78.233f) * 0.999f;
}
