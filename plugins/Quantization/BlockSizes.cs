using PeftHost.Sdk;

namespace PeftHost.Quantization;

/// <summary>The block sizes the quantizers accept: powers of two from 32 to 4096.</summary>
public static class BlockSizes
{
    /// <summary>Smallest accepted block size.</summary>
    public const int Min = 32;

    /// <summary>Largest accepted block size.</summary>
    public const int Max = 4096;

    /// <summary>The nested (double quantization) block size bitsandbytes uses for 4-bit absmax values.</summary>
    public const int Nested = 256;

    /// <summary>Throws a <see cref="ConfigException"/> naming <c>blockSize</c> unless <paramref name="blockSize"/> is accepted.</summary>
    public static int Validate(int blockSize)
    {
        if (blockSize < Min || blockSize > Max || (blockSize & (blockSize - 1)) != 0)
            throw new ConfigException($"blockSize must be a power of two from {Min} to {Max}, got {blockSize}", "blockSize");
        return blockSize;
    }
}
