using PeftHost.Core.Quantization.Codecs;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// Blockwise 4-bit quantization as bitsandbytes' <c>quantize_4bit</c> / <c>dequantize_4bit</c>:
/// the tensor is flattened row-major and cut into blocks; per block absmax = max |x| (float32)
/// and every x is scaled by the float32 reciprocal 1/absmax (a multiply, not a division) before
/// it picks a code; a last partial block has its own absmax and an odd element count gets one
/// padding nibble, quantized as a 0 of that block. Codes are packed two per byte
/// (<see cref="NibblePacking"/>) into uint8 [(n+1)/2, 1] like <c>Params4bit</c>. Decoding is
/// quant_map[code] · absmax in float32, then a cast to the requested dtype.
/// </summary>
public static class FourBitCodec
{
    /// <summary>
    /// Elements quantized per pass: a multiple of every allowed block size (powers of two up to
    /// 4096) and even, so chunks never split a block or a byte. It bounds the float32
    /// temporaries (scaled values, code indices) to a few MiB whatever the weight's size, so
    /// quantizing a model while it loads adds almost nothing to its peak memory.
    /// </summary>
    public const long ChunkElements = 1L << 20;

    /// <summary>Packed codes [(n+1)/2, 1] (uint8) and absmax [blocks] (float32) of <paramref name="weight"/>.</summary>
    public static (Tensor Packed, Tensor Absmax) Quantize(Tensor weight, FourBitCode code, int blockSize)
    {
        BlockSizes.Validate(blockSize);
        using var noGrad = no_grad();
        // Disposed here, not left to the finalizer: this view would keep the whole float weight alive.
        using var detached = weight.detach();
        using var flat = detached.reshape(-1);
        long n = flat.shape[0];
        var packed = empty((n + 1) / 2, ScalarType.Byte, weight.device);
        var absmax = empty(Blocks.Count(n, blockSize), ScalarType.Float32, weight.device);
        for (long start = 0; start < n; start += ChunkElements)
        {
            using var scope = NewDisposeScope();
            long length = Math.Min(ChunkElements, n - start);
            var blocks = Blocks.View(flat.narrow(0, start, length).to(ScalarType.Float32), blockSize, out _);
            var chunkAbsmax = blocks.abs().amax([1]);
            var scaled = blocks * chunkAbsmax.reciprocal().unsqueeze(1); // not in place: blocks may be the caller's weight
            var codes = code.Encode(scaled).reshape(-1).narrow(0, 0, length + (length % 2));
            packed.narrow(0, start / 2, codes.shape[0] / 2).copy_(NibblePacking.Pack(codes));
            absmax.narrow(0, start / blockSize, chunkAbsmax.shape[0]).copy_(chunkAbsmax);
        }
        return (packed.reshape(-1, 1), absmax);
    }

    /// <summary>
    /// float32 values [n] from packed codes, per-block absmax (float32) and the 16-value
    /// <paramref name="quantMap"/>. Decodes through a 256-entry byte table: one gather per byte.
    /// </summary>
    public static Tensor Dequantize(Tensor packed, Tensor absmax, Tensor quantMap, int blockSize, long n)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var map = quantMap.to(ScalarType.Float32, packed.device);
        // byteTable[b] = (map[b >> 4], map[b & 15])
        using var first = 0.ToScalar();
        using var end = 256.ToScalar();
        using var sixteen = 16.ToScalar();
        var byteValues = arange(first, end, TensorArithmetic.One, ScalarType.Int32, packed.device);
        var byteTable = stack([map.index_select(0, byteValues.div(sixteen, RoundingMode.floor)), map.index_select(0, byteValues.remainder(sixteen))], 1);
        var codes = packed.reshape(-1).to(ScalarType.Int32);
        var values = byteTable.index_select(0, codes).reshape(-1);
        codes.Dispose(); // 4 bytes per packed byte: gone before the scaling pass
        long blocks = Blocks.Count(n, blockSize);
        if (values.shape[0] == n && n == blocks * blockSize)
        {
            // The usual case (n a multiple of the block size): scale in place, no second buffer.
            values.view(blocks, blockSize).mul_(absmax.to(ScalarType.Float32, packed.device).unsqueeze(1));
            return values.MoveToOuterDisposeScope();
        }
        var padded = Blocks.View(values.narrow(0, 0, n), blockSize, out _);
        var result = (padded * absmax.to(ScalarType.Float32, packed.device).unsqueeze(1)).reshape(-1).narrow(0, 0, n);
        return result.contiguous().MoveToOuterDisposeScope();
    }
}
