using static TorchSharp.torch;

namespace PeftHost.Core.Checkpoints;

/// <summary>
/// Copies raw bytes between managed/mapped memory and CPU tensors. TorchSharp's
/// <c>Tensor.bytes</c> getter returns a copy and its setter copies in, each limited to 2 GiB,
/// so data moves through the setter in flat chunks of at most 1 GiB.
/// </summary>
internal static class TensorBytes
{
    private const long ChunkBytes = 1L << 30;

    /// <summary>Fills a contiguous CPU tensor from <paramref name="source"/> (exactly its byte size).</summary>
    public static unsafe void CopyInto(Tensor destination, byte* source, long byteCount)
    {
        using var flat = destination.view(-1);
        long elementSize = destination.ElementSize;
        long perChunk = ChunkBytes / elementSize;
        long elements = destination.NumberOfElements;
        for (long start = 0; start < elements; start += perChunk)
        {
            long n = Math.Min(perChunk, elements - start);
            using var chunk = flat.narrow(0, start, n);
            chunk.bytes = new Span<byte>(source + start * elementSize, checked((int)(n * elementSize)));
        }
        if (elements * elementSize != byteCount)
            throw new InvalidOperationException($"byte count {byteCount} does not match tensor size {elements * elementSize}");
    }

    /// <summary>Fills a contiguous CPU tensor with bytes read from <paramref name="stream"/>.</summary>
    public static unsafe void ReadInto(Tensor destination, Stream stream)
    {
        long total = destination.NumberOfElements * destination.ElementSize;
        var buffer = new byte[Math.Min(total, ChunkBytes)];
        using var flat = destination.view(-1);
        long elementSize = destination.ElementSize;
        for (long start = 0; start < destination.NumberOfElements;)
        {
            long n = Math.Min(buffer.Length / elementSize, destination.NumberOfElements - start);
            var span = buffer.AsSpan(0, checked((int)(n * elementSize)));
            stream.ReadExactly(span);
            using var chunk = flat.narrow(0, start, n);
            chunk.bytes = span;
            start += n;
        }
    }

    /// <summary>Writes a tensor's bytes (made contiguous on the CPU) to <paramref name="stream"/>.</summary>
    public static void WriteTo(Tensor tensor, Stream stream)
    {
        using var cpu = tensor.device.type == TorchSharp.DeviceType.CPU ? tensor.contiguous() : tensor.cpu().contiguous();
        using var flat = cpu.view(-1);
        long elementSize = cpu.ElementSize;
        long perChunk = ChunkBytes / elementSize;
        for (long start = 0; start < flat.NumberOfElements; start += perChunk)
        {
            using var chunk = flat.narrow(0, start, Math.Min(perChunk, flat.NumberOfElements - start));
            stream.Write(chunk.bytes);
        }
    }
}
