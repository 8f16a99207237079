using static TorchSharp.torch;

namespace PeftHost.Core.Quantization.Codecs;

/// <summary>Views a flat tensor as [blocks, blockSize], padding a last partial block with zeros.</summary>
internal static class Blocks
{
    /// <summary>Number of blocks of <paramref name="blockSize"/> covering <paramref name="n"/> elements.</summary>
    public static long Count(long n, int blockSize) => (n + blockSize - 1) / blockSize;

    /// <summary>The flat tensor <paramref name="flat"/> [n] as [blocks, blockSize] (zero-padded).</summary>
    public static Tensor View(Tensor flat, int blockSize, out long n)
    {
        n = flat.shape[0];
        long blocks = Count(n, blockSize);
        long pad = blocks * blockSize - n;
        var padded = pad == 0 ? flat : cat([flat, zeros(pad, flat.dtype, flat.device)]);
        return padded.view(blocks, blockSize);
    }
}
