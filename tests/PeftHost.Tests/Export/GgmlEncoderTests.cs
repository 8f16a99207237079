using PeftHost.Core.Export.Gguf;
using static TorchSharp.torch;

namespace PeftHost.Tests.Export;

/// <summary>
/// ggml's block formats as PeftHost writes them, checked against the published layouts (ggml-common.h, ggml-quants.c's
/// reference quantizers) on fixed inputs: block_q8_0 = { half d; int8 qs[32] }, block_q4_0 = { half d; uint8 qs[16] }
/// with element j in the low nibble of qs[j] and element 16 + j in its high nibble.
/// </summary>
public sealed class GgmlEncoderTests
{
    /// <summary>Two blocks of 32 fixed values: a ramp with its largest magnitude negative, and one with a positive peak and zeros.</summary>
    private static float[] FixedInput() =>
        Enumerable.Range(0, 32).Select(i => (i - 16) / 8f)
            .Concat(Enumerable.Range(0, 32).Select(i => i == 5 ? 3.5f : i % 4 == 0 ? 0f : MathF.Sin(i) * 1.25f)).ToArray();

    private static ushort Half(float v) => BitConverter.HalfToUInt16Bits((Half)v);

    [Fact]
    public void Q8_0_blocks_are_the_half_scale_then_32_rounded_int8_codes()
    {
        var x = FixedInput();
        using var t = tensor(x).reshape(2, 32);
        var bytes = GgmlEncoder.Encode(t, GgmlType.Q8_0);
        Assert.Equal(2 * 34, bytes.Length);
        for (int b = 0; b < 2; b++)
        {
            var block = x.AsSpan(b * 32, 32);
            float amax = 0;
            foreach (var v in block) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            Assert.Equal(Half(d), BitConverter.ToUInt16(bytes, b * 34));
            for (int j = 0; j < 32; j++)
                Assert.Equal((sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero), (sbyte)bytes[b * 34 + 2 + j]);
        }
        // The ramp's first element is the largest magnitude: it maps to −127 exactly.
        Assert.Equal(-127, (sbyte)bytes[2]);
    }

    [Fact]
    public void Q4_0_blocks_are_the_half_scale_then_nibbles_low_first_half_high_second_half()
    {
        var x = FixedInput();
        using var t = tensor(x).reshape(2, 32);
        var bytes = GgmlEncoder.Encode(t, GgmlType.Q4_0);
        Assert.Equal(2 * 18, bytes.Length);
        for (int b = 0; b < 2; b++)
        {
            var block = x.AsSpan(b * 32, 32);
            float amax = 0, max = 0;
            foreach (var v in block)
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            float d = max / -8;
            float id = d != 0 ? 1 / d : 0;
            Assert.Equal(Half(d), BitConverter.ToUInt16(bytes, b * 18));
            for (int j = 0; j < 16; j++)
            {
                int low = Math.Min(15, (int)(block[j] * id + 8.5f));
                int high = Math.Min(15, (int)(block[16 + j] * id + 8.5f));
                Assert.Equal((byte)(low | high << 4), bytes[b * 18 + 2 + j]);
            }
        }
        // Block 0: the peak −2 is at element 0 (code 0 = −8·d), 0 at element 16 (code 8).
        Assert.Equal(0x80, bytes[2]);
    }

    /// <summary>
    /// Values that land exactly on, and one float either side of, every rounding boundary of Q8_0 (block peak 127, so
    /// x·id = x) — including 0.49999997, the float below ½ — then random blocks of several scales.
    /// </summary>
    private static float[] BoundaryAndRandomInput()
    {
        var values = new List<float>();
        for (int k = 0; k < 127; k++)
        {
            float half = k + 0.5f;
            values.AddRange([half, MathF.BitDecrement(half), MathF.BitIncrement(half), -half, -MathF.BitDecrement(half), -MathF.BitIncrement(half)]);
        }
        values.AddRange([0.49999997f, -0.49999997f, 0f, -0f]);
        var blocks = new List<float>();
        foreach (var chunk in values.Chunk(31)) blocks.AddRange([127f, .. chunk, .. Enumerable.Repeat(0f, 31 - chunk.Length)]);
        var random = new Random(7);
        for (int b = 0; b < 512; b++)
        {
            float scale = MathF.Pow(10, random.Next(-6, 4));
            blocks.AddRange(Enumerable.Range(0, 32).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale));
        }
        return [.. blocks];
    }

    [Fact]
    public void Q8_0_and_q4_0_match_the_reference_quantizers_at_every_rounding_boundary_and_on_random_blocks()
    {
        var x = BoundaryAndRandomInput();
        int blocks = x.Length / 32;
        using var t = tensor(x).reshape(blocks, 32);
        var q8 = GgmlEncoder.Encode(t, GgmlType.Q8_0);
        var q4 = GgmlEncoder.Encode(t, GgmlType.Q4_0);
        for (int b = 0; b < blocks; b++)
        {
            var block = x.AsSpan(b * 32, 32);
            float amax = 0, max = 0;
            foreach (var v in block)
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            // ggml's quantize_row_q8_0_ref: d = amax / 127, q = roundf(x · (1/d)).
            float d8 = amax / 127, id8 = d8 != 0 ? 1 / d8 : 0;
            Assert.Equal(Half(d8), BitConverter.ToUInt16(q8, b * 34));
            for (int j = 0; j < 32; j++)
                Assert.True((sbyte)MathF.Round(block[j] * id8, MidpointRounding.AwayFromZero) == (sbyte)q8[b * 34 + 2 + j],
                    $"q8_0 block {b} element {j}: {block[j]:R} · {id8:R}");
            // gguf-py's quantize_blocks_q4_0: d = max / −8, q = min(15, trunc(x · (1/d) + 8.5)) in float64.
            float d4 = max / -8, id4 = d4 != 0 ? 1 / d4 : 0;
            Assert.Equal(Half(d4), BitConverter.ToUInt16(q4, b * 18));
            for (int j = 0; j < 16; j++)
            {
                int low = (int)Math.Min(15, Math.Truncate((double)block[j] * id4 + 8.5));
                int high = (int)Math.Min(15, Math.Truncate((double)block[16 + j] * id4 + 8.5));
                Assert.True((byte)(low | high << 4) == q4[b * 18 + 2 + j], $"q4_0 block {b} pair {j}");
            }
        }
    }

    [Fact]
    public void F16_and_bf16_round_to_nearest_even_and_f32_is_the_raw_bits()
    {
        float[] x = [1f, -2.5f, 1f / 3, 65504f, 1e-8f, float.Epsilon * 3, 3.14159265f, -0f];
        using var t = tensor(x);
        var f16 = GgmlEncoder.Encode(t, GgmlType.F16);
        var bf16 = GgmlEncoder.Encode(t, GgmlType.BF16);
        var f32 = GgmlEncoder.Encode(t, GgmlType.F32);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(Half(x[i]), BitConverter.ToUInt16(f16, 2 * i));
            uint bits = BitConverter.SingleToUInt32Bits(x[i]);
            Assert.Equal((ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16), BitConverter.ToUInt16(bf16, 2 * i));
            Assert.Equal(bits, BitConverter.ToUInt32(f32, 4 * i));
        }
    }

    [Fact]
    public void A_row_that_is_not_whole_blocks_is_refused()
    {
        using var t = zeros(4, 40);
        var e = Assert.Throws<ArgumentException>(() => GgmlEncoder.Encode(t, GgmlType.Q8_0));
        Assert.Contains("40 elements is not a whole number of q8_0 blocks of 32", e.Message);
    }
}
