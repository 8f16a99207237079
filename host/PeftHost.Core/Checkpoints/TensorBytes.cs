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
    /// Fills a contiguous CPU tensor with the bytes of <paramref name="file"/> from <paramref name="offset"/>,
    /// straight into the tensor's memory (<see cref="TensorMemory"/>); false when the file ends first.
    /// </summary>
    public static bool ReadAt(Tensor destination, SafeFileHandle file, long offset) =>
        ReadAt(TensorMemory.Address(destination), destination.NumberOfElements * destination.ElementSize, file, offset);

    /// <summary>
    /// Positioned reads of <paramref name="byteCount"/> bytes of <paramref name="file"/> from <paramref name="offset"/>
    /// into memory at <paramref name="target"/>; false when the file ends first. One copy, from the page cache: copying
    /// from a mapping of the file instead faulted each of its 4 KiB pages in first (a ~100M model: 845 against 515 MB
    /// peak resident, and slower). No TorchSharp call: safe on any thread.
    /// </summary>
    public static unsafe bool ReadAt(nint target, long byteCount, SafeFileHandle file, long offset)
    {
        for (long done = 0; done < byteCount; done += ChunkBytes)
            if (!ReadFully(file, new Span<byte>((byte*)target + done, (int)Math.Min(ChunkBytes, byteCount - done)), offset + done))
                return false;
        return true;
    }

    /// <summary>Fills a contiguous CPU tensor with bytes read from <paramref name="stream"/>.</summary>
    public static void ReadInto(Tensor destination, Stream stream) =>
        ThroughBuffer(destination, (span, _) =>
        {
            stream.ReadExactly(span);
            return true;
        });

    /// <summary>
    /// Fills <paramref name="destination"/> chunk by chunk: <paramref name="fill"/> gets a buffer span and the
    /// byte position in the tensor it stands for (false: no more bytes), then the byte setter copies it in.
    /// </summary>
    private static bool ThroughBuffer(Tensor destination, Func<Span<byte>, long, bool> fill)
    {
        long elementSize = destination.ElementSize;
        var buffer = new byte[Math.Min(destination.NumberOfElements * elementSize, ChunkBytes)];
        using var flat = destination.view(-1);
        for (long start = 0; start < destination.NumberOfElements;)
        {
            long n = Math.Min(buffer.Length / elementSize, destination.NumberOfElements - start);
            var span = buffer.AsSpan(0, checked((int)(n * elementSize)));
            if (!fill(span, start * elementSize)) return false;
            using var chunk = flat.narrow(0, start, n);
            chunk.bytes = span;
            start += n;
        }
        return true;
    }

    /// <summary>Reads <paramref name="span"/>'s length from <paramref name="offset"/>; false when the file ends first.</summary>
    private static bool ReadFully(SafeFileHandle file, Span<byte> span, long offset)
    {
        for (int filled = 0; filled < span.Length;)
        {
            int got = RandomAccess.Read(file, span[filled..], offset + filled);
            if (got == 0) return false;
            filled += got;
        }
        return true;
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
