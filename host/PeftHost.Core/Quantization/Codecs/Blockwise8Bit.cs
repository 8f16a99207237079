using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization.Codecs;

/// <summary>
/// bitsandbytes' blockwise 8-bit quantization (<c>quantize_blockwise</c> /
/// <c>dequantize_blockwise</c>): per block of <c>blockSize</c> elements absmax = max |x| (float32),
/// x · (1/absmax) encoded with a 256-value code (<see cref="CodebookSearch"/>); a last partial
/// block has its own absmax. Decoding is code[q] · absmax in float32.
/// </summary>
/// <remarks>Shared by Core (8-bit optimizer state) and the quantization plugin (linked source).</remarks>
internal static class Blockwise8Bit
{
    /// <summary>Codes (uint8, flat, n elements) and absmax (float32, one per block) of <paramref name="values"/>.</summary>
    public static (Tensor Codes, Tensor Absmax) Quantize(Tensor values, CodebookSearch search, int blockSize)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var blocks = Blocks.View(values.reshape(-1).to(ScalarType.Float32), blockSize, out long n);
        var absmax = blocks.abs().amax([1]);
        var scaled = blocks * absmax.reciprocal().unsqueeze(1);
        var codes = search.Encode(scaled).reshape(-1).narrow(0, 0, n);
        return (codes.contiguous().MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
    }

    /// <summary>float32 values [n] from codes [n] and per-block absmax, with the code <paramref name="code"/> [256].</summary>
    public static Tensor Dequantize(Tensor codes, Tensor absmax, Tensor code, int blockSize)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var values = code.to(ScalarType.Float32).index_select(0, codes.reshape(-1).to(ScalarType.Int32));
        var blocks = Blocks.View(values, blockSize, out long n);
        var result = (blocks * absmax.to(ScalarType.Float32).unsqueeze(1)).reshape(-1).narrow(0, 0, n);
        return result.contiguous().MoveToOuterDisposeScope();
    }
}
