using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// y = x·Wᵀ for a few rows of x (decoding: one) and a 4-bit weight, decoding the codes in registers
/// as it multiplies. Written by hand because libtorch has no 4-bit product on the CPU: through
/// tensor operations every weight is widened to an int32 index, gathered to float32, scaled and
/// read again by the matmul, about 20 bytes of memory traffic per weight, so a ~100M NF4 model
/// decoded 4.8 tokens/s against llama.cpp's 55 on Q4_0 (bench/RESULTS.md, anchors). Here each
/// weight costs half a byte read: per 32 codes, one 16-byte load, two nibble masks and an
/// interleave; per 8, a widening to int32, a 16-entry table lookup (two 8-lane permutes and a
/// blend on the code's top bit) and a fused multiply-add with x. The block's absmax multiplies the
/// block's partial sums once, not every weight.
/// <para>
/// Same values as dequantizing first (quant_map[code] · absmax, in float32), summed in another
/// order, as any two matrix products are. Runs where it applies (<see cref="Applies"/>): AVX2 and
/// FMA, CPU tensors, float32 weights and input, rows a multiple of 32 weights; everything else (training,
/// prefill, other devices) keeps the dequantizing path of <see cref="RowBands"/>.
/// </para>
/// </summary>
internal static unsafe class FourBitMatVec
{
    /// <summary>The most rows of x one call takes: each decoded weight is used once per row, so beyond a few rows the dequantize-then-matmul path wins.</summary>
    public const int MaxRows = 4;

    /// <summary>True when the kernel can compute <paramref name="quantized"/> (a layer's [out, in] weight) times <paramref name="input"/>.</summary>
    public static bool Applies(QuantizedTensor quantized, Tensor input)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported) return false;
        if (quantized.QuantType is not ("nf4" or "fp4") || quantized.OriginalDtype != ScalarType.Float32) return false;
        if (input.dtype != ScalarType.Float32 || input.device_type != DeviceType.CPU || quantized.Data.device_type != DeviceType.CPU) return false;
        if (input.NumberOfElements / quantized.Shape[1] > MaxRows) return false;
        // Rows of whole 32-code steps; blocks (32 to 4096, powers of two) may still span rows.
        if (quantized.Shape[1] % BlockSizes.Min != 0 || !quantized.Data.is_contiguous()) return false;
        // The state as the quantizer stores it (the kernel reads it through pointers).
        var absmax = quantized.State[QuantStateKeys.Absmax];
        return QuantizedState.IsNested(quantized)
            ? absmax.dtype == ScalarType.Byte && quantized.State[QuantStateKeys.NestedAbsmax].dtype == ScalarType.Float32
              && quantized.State[QuantStateKeys.NestedQuantMap].dtype == ScalarType.Float32
            : absmax.dtype == ScalarType.Float32;
    }

    /// <summary>x·Wᵀ (+ bias) for <paramref name="input"/> [..., in] (float32), where <see cref="Applies"/>.</summary>
    public static Tensor Linear(QuantizedTensor quantized, Tensor input, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long outFeatures = quantized.Shape[0], inFeatures = quantized.Shape[1];
        var x = input.reshape(-1, inFeatures).contiguous();
        var y = empty([x.shape[0], outFeatures], ScalarType.Float32);
        var map = quantized.State[QuantStateKeys.QuantMap].to(ScalarType.Float32).contiguous();
        var job = new Job(TensorMemory.Address(quantized.Data), TensorMemory.Address(map), Scales.Of(quantized), TensorMemory.Address(x), TensorMemory.Address(y),
            (int)x.shape[0], outFeatures, inFeatures, QuantStateJson.Int(quantized.QuantState, "blocksize"));
        // Rows split over libtorch's own threads (on .NET threads the step gained nothing: libtorch's
        // workers spin on the other core after each operation; bench/RESULTS.md, performance log).
        // A weight costs about what a float32 one does: fewer bytes, but decoded in registers.
        IntraOpParallel.For(outFeatures, inFeatures * x.shape[0], job.Run);
        if (bias is not null) y.AddInPlace(bias);
        return y.view([.. input.shape[..^1], outFeatures]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The per-block absmax, read where it is stored: float32 values, or (double quantization) uint8
    /// codes restored per block as the whole-tensor path restores them, nested_quant_map[code] ·
    /// nested_absmax + offset in float32, so no float32 copy of the absmax is made per call.
    /// </summary>
    private readonly struct Scales(nint plain, nint codes, nint nestedAbsmax, nint nestedMap, float offset, int nestedBlockSize)
    {
        public static Scales Of(QuantizedTensor quantized)
        {
            var absmax = quantized.State[QuantStateKeys.Absmax];
            if (!QuantizedState.IsNested(quantized)) return new Scales(TensorMemory.Address(absmax), 0, 0, 0, 0, 0);
            return new Scales(0, TensorMemory.Address(absmax), TensorMemory.Address(quantized.State[QuantStateKeys.NestedAbsmax]),
                TensorMemory.Address(quantized.State[QuantStateKeys.NestedQuantMap]),
                (float)QuantStateJson.Double(quantized.QuantState, "nested_offset"),
                QuantStateJson.Int(quantized.QuantState, "nested_blocksize"));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Block(long block)
        {
            if (plain != 0) return ((float*)plain)[block];
            float scaled = ((float*)nestedMap)[((byte*)codes)[block]] * ((float*)nestedAbsmax)[block / nestedBlockSize];
            return scaled + offset;
        }
    }

    /// <summary>One product's pointers and sizes; <see cref="Run"/> computes a range of output features.</summary>
    private readonly struct Job(nint codes, nint map, Scales scales, nint x, nint y, int rows, long outFeatures, long inFeatures, int blockSize)
    {
        public void Run(long firstOut, long endOut)
        {
            var table = (float*)map;
            var low = Avx.LoadVector256(table);      // codes 0–7
            var high = Avx.LoadVector256(table + 8); // codes 8–15
            for (long o = firstOut; o < endOut; o++)
            {
                // Each row of x against the same codes: they stay in the L1 cache between rows.
                for (int r = 0; r < rows; r++)
                    ((float*)y)[r * outFeatures + o] = Dot(o * inFeatures, (float*)x + r * inFeatures, low, high);
            }
        }

        /// <summary>
        /// Weight row elements [<paramref name="first"/>, + in) of the flattened weight times one row
        /// of x. A block may begin inside a row (when in is no multiple of the block size): the row is
        /// walked block segment by block segment, each a whole number of 32-code steps since
        /// in and the block size are multiples of 32.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private float Dot(long first, float* x, Vector256<float> low, Vector256<float> high)
        {
            var c = (byte*)codes + first / 2;
            var sum = Vector256<float>.Zero;
            long end = first + inFeatures;
            for (long f = first; f < end;)
            {
                long block = f / blockSize;
                long segmentEnd = Math.Min(end, (block + 1) * blockSize);
                // Four independent sums, so consecutive multiply-adds do not wait on each other.
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (; f < segmentEnd; f += 32, c += 16, x += 32)
                {
                    // 16 bytes hold 32 codes, element 2i in byte i's high nibble.
                    var packed = Sse2.LoadVector128(c);
                    var his = Sse2.And(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), Vector128.Create((byte)0x0F));
                    var los = Sse2.And(packed, Vector128.Create((byte)0x0F));
                    var first16 = Sse2.UnpackLow(his, los);
                    var last16 = Sse2.UnpackHigh(his, los);
                    s0 = Fma.MultiplyAdd(Decode(first16, low, high), Avx.LoadVector256(x), s0);
                    s1 = Fma.MultiplyAdd(Decode(Sse2.ShiftRightLogical128BitLane(first16, 8), low, high), Avx.LoadVector256(x + 8), s1);
                    s2 = Fma.MultiplyAdd(Decode(last16, low, high), Avx.LoadVector256(x + 16), s2);
                    s3 = Fma.MultiplyAdd(Decode(Sse2.ShiftRightLogical128BitLane(last16, 8), low, high), Avx.LoadVector256(x + 24), s3);
                }
                sum = Fma.MultiplyAdd(Avx.Add(Avx.Add(s0, s1), Avx.Add(s2, s3)), Vector256.Create(scales.Block(block)), sum);
            }
            return Vector256.Sum(sum);
        }

        /// <summary>quant_map[code] for the 8 codes in the low 8 bytes of <paramref name="codes"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Decode(Vector128<byte> codes, Vector256<float> low, Vector256<float> high)
        {
            var index = Avx2.ConvertToVector256Int32(codes);
            var fromLow = Avx2.PermuteVar8x32(low, index);   // uses the index's low 3 bits
            var fromHigh = Avx2.PermuteVar8x32(high, index);
            return Avx.BlendVariable(fromLow, fromHigh, Avx2.ShiftLeftLogical(index, 28).AsSingle()); // bit 3 → sign bit picks high
        }
    }
}
