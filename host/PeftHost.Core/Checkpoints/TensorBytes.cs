using Microsoft.Win32.SafeHandles;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Core.Checkpoints;

/// <summary>
/// Copies raw bytes between files, streams and CPU tensors. TorchSharp's
/// <c>Tensor.bytes</c> getter returns a copy and its setter copies in, each limited to 2 GiB,
/// so data moves through the setter in flat chunks of at most 1 GiB, except where a file is read
/// straight into the tensor's memory (<c>ReadAt</c>).
/// </summary>
internal static class TensorBytes
{
    private const long ChunkBytes = 1L << 30;

    /// <summary>
    /// Fills a contiguous CPU tensor with the bytes of <paramref name="file"/> from <paramref name="offset"/>;
    /// false when the file ends first. Straight into the tensor's memory where it has an address
    /// (<see cref="TensorMemory"/>), otherwise (16-bit floats) through a managed buffer and the byte setter.
    /// </summary>
    public static bool ReadAt(Tensor destination, SafeFileHandle file, long offset)
    {
        long total = destination.NumberOfElements * destination.ElementSize;
        if (TensorMemory.TryAddress(destination, out nint address)) return ReadAt(address, total, file, offset);
        var buffer = new byte[Math.Min(total, ChunkBytes)];
        using var flat = destination.view(-1);
        long elementSize = destination.ElementSize;
        for (long start = 0; start < destination.NumberOfElements;)
        {
            long n = Math.Min(buffer.Length / elementSize, destination.NumberOfElements - start);
            var span = buffer.AsSpan(0, checked((int)(n * elementSize)));
            for (int filled = 0; filled < span.Length;)
            {
                int got = RandomAccess.Read(file, span[filled..], offset + start * elementSize + filled);
                if (got == 0) return false;
                filled += got;
            }
            using var chunk = flat.narrow(0, start, n);
            chunk.bytes = span;
            start += n;
        }
        return true;
    }

    /// <summary>
    /// Positioned reads of <paramref name="byteCount"/> bytes of <paramref name="file"/> from <paramref name="offset"/>
    /// into memory at <paramref name="target"/>; false when the file ends first. One copy, from the page cache: copying
    /// from a mapping of the file instead faulted each of its 4 KiB pages in first (a ~100M model: 845 against 515 MB
    /// peak resident, and slower). No TorchSharp call: safe on any thread.
    /// </summary>
    public static unsafe bool ReadAt(nint target, long byteCount, SafeFileHandle file, long offset)
    {
        for (long done = 0; done < byteCount;)
        {
            int got = RandomAccess.Read(file, new Span<byte>((byte*)target + done, (int)Math.Min(ChunkBytes, byteCount - done)), offset + done);
            if (got == 0) return false;
            done += got;
        }
        return true;
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
