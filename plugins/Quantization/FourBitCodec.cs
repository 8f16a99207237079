using PeftHost.Core.Quantization.Codecs;
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
    /// <summary>Packed codes [(n+1)/2, 1] (uint8) and absmax [blocks] (float32) of <paramref name="weight"/>.</summary>
    public static (Tensor Packed, Tensor Absmax) Quantize(Tensor weight, FourBitCode code, int blockSize)
    {
        BlockSizes.Validate(blockSize);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var blocks = Blocks.View(weight.detach().reshape(-1).to(ScalarType.Float32), blockSize, out long n);
        var absmax = blocks.abs().amax([1]);
        var scaled = blocks * absmax.reciprocal().unsqueeze(1);
        long kept = n + (n % 2);
        var codes = code.Encode(scaled).reshape(-1).narrow(0, 0, kept);
        var packed = NibblePacking.Pack(codes).reshape(-1, 1);
        return (packed.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
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
        var byteValues = arange(256, ScalarType.Int32, packed.device);
        var byteTable = stack([map.index_select(0, byteValues.div(16, RoundingMode.floor)), map.index_select(0, byteValues.remainder(16))], 1);
        var values = byteTable.index_select(0, packed.reshape(-1).to(ScalarType.Int32)).reshape(-1).narrow(0, 0, n);
        var blocks = Blocks.View(values, blockSize, out _);
        var result = (blocks * absmax.to(ScalarType.Float32, packed.device).unsqueeze(1)).reshape(-1).narrow(0, 0, n);
        return result.contiguous().MoveToOuterDisposeScope();
    }
}
