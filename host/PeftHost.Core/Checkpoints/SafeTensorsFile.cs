using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using PeftHost.Core.Models;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Checkpoints;

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">The tensor's key.</param>
/// <param name="DtypeName">The safetensors dtype (F32, BF16, U8, …).</param>
/// <param name="Dtype">The torch dtype.</param>
/// <param name="Shape">The shape.</param>
/// <param name="Begin">Start offset in the data section.</param>
/// <param name="End">End offset (exclusive) in the data section.</param>
public sealed record SafeTensorEntry(string Name, string DtypeName, ScalarType Dtype, long[] Shape, long Begin, long End)
{
    /// <summary>Bytes of data.</summary>
    public long ByteLength => End - Begin;
}

/// <summary>
/// An open <c>.safetensors</c> file, read by positioned reads: an 8-byte little-endian header length, a JSON
/// header of tensor entries, then the raw data. Every header field is checked before use —
/// lengths, offsets, overlaps, dtypes, shapes — so a damaged or hostile file gives a named
/// error instead of a crash or a huge allocation.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are refused (the format's reference reader uses the same bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly SafeFileHandle? _file;
    private readonly long _dataStart;

    private SafeTensorsFile(string path, SafeFileHandle? file, long dataStart,
        Dictionary<string, SafeTensorEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path; _file = file; _dataStart = dataStart; Entries = entries; Metadata = metadata;
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>The tensors, by key.</summary>
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }

    /// <summary>The header's <c>__metadata__</c> strings.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "file not found");
        // One open file for the length, the header and the mapping: a file renamed over the path
        // meanwhile (a save in progress) cannot pair one file's header with another's data.
        var file = File.OpenRead(path);
        try
        {
            long fileLength = file.Length;
            if (fileLength < 8) throw new ModelFormatException(path, $"too short for a safetensors file ({fileLength} bytes)");

            byte[] lengthBytes = new byte[8];
            file.ReadExactly(lengthBytes);
            ulong headerLength = BitConverter.ToUInt64(lengthBytes);
            if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
                throw new ModelFormatException(path, $"header length {headerLength} exceeds the file ({fileLength} bytes) or the {MaxHeaderBytes}-byte limit");

            byte[] header = new byte[headerLength];
            file.ReadExactly(header);
            long dataStart = 8 + (long)headerLength;
            long dataLength = fileLength - dataStart;
            var (entries, metadata) = ParseHeader(path, header, dataLength);

            if (dataLength == 0)
            {
                file.Dispose();
                return new SafeTensorsFile(path, null, dataStart, entries, metadata);
            }
            return new SafeTensorsFile(path, file.SafeFileHandle, dataStart, entries, metadata);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> into a new CPU tensor, converted to
    /// <paramref name="dtype"/> when given.
    /// </summary>
    public Tensor Read(string name, ScalarType? dtype = null)
    {
        if (!Entries.TryGetValue(name, out var entry))
            throw new ModelFormatException(Path, $"no tensor '{name}'");
        var result = empty(entry.Shape, entry.Dtype, CPU);
        CopyStored(entry, result);
        if (dtype is ScalarType target && target != entry.Dtype)
        {
            var converted = result.to(target);
            result.Dispose();
            return converted;
        }
        return result;
    }

    /// <summary>
    /// Copies tensors into destinations of the same shape: straight from the file into a destination's memory
    /// when it is a contiguous CPU tensor of the stored dtype, as a model's parameters are (one copy of each
    /// weight, no intermediate tensor); otherwise read, then copied (converting). The straight copies are
    /// positioned reads spread over up to <see cref="ReadThreads"/> threads in pieces of at most
    /// <see cref="ReadPieceBytes"/>: reading from the page cache is the kernel copying and faulting in fresh
    /// pages, work two cores share. One thread read a ~100M model's 343 MB in 160–620 ms (the spread from
    /// transparent-huge-page compaction), two in 105–180 ms. Only the reads run off the calling thread;
    /// every TorchSharp call (addresses, the converting copies) stays on it.
    /// </summary>
    public static void ReadManyInto(IEnumerable<(SafeTensorsFile File, string Name, Tensor Destination)> reads)
    {
        var pieces = new List<(SafeTensorsFile File, SafeTensorEntry Entry, long Start, long Length, nint Target)>();
        foreach (var (file, name, destination) in reads)
        {
            var entry = file.EntryFor(name, destination);
            if (entry.ByteLength == 0) continue;
            bool stored = entry.Dtype == destination.dtype && destination.device_type == DeviceType.CPU && destination.is_contiguous();
            if (stored)
            {
                nint address = TensorMemory.Address(destination);
                for (long start = 0; start < entry.ByteLength; start += ReadPieceBytes)
                    pieces.Add((file, entry, start, Math.Min(ReadPieceBytes, entry.ByteLength - start), address + (nint)start));
                continue;
            }
            // Converting, or another device: through a tensor of the stored bytes.
            using var read = file.Read(name);
            using (no_grad()) destination.copy_(read);
        }
        try
        {
            Parallel.ForEach(pieces, new ParallelOptions { MaxDegreeOfParallelism = ReadThreads }, piece =>
            {
                if (!TensorBytes.ReadAt(piece.Target, piece.Length, piece.File._file!, piece.File._dataStart + piece.Entry.Begin + piece.Start))
                    throw piece.File.EndsEarly(piece.Entry);
            });
        }
        catch (AggregateException e)
        {
            // The error as one read would have thrown it (a cut file's name, an I/O error), not wrapped.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }

    /// <summary>Threads that read tensors in parallel: the cores, at most four (beyond that the page cache's copy is memory-bound).</summary>
    private static int ReadThreads => Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>The largest piece one thread reads at a time, so that one large tensor (an embedding) still spreads over the threads.</summary>
    private const long ReadPieceBytes = 64L << 20;

    private SafeTensorEntry EntryFor(string name, Tensor destination)
    {
        if (!Entries.TryGetValue(name, out var entry))
            throw new ModelFormatException(Path, $"no tensor '{name}'");
        if (!entry.Shape.SequenceEqual(destination.shape))
            throw new ModelFormatException(Path, $"tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], the destination [{string.Join(", ", destination.shape)}]");
        return entry;
    }

    /// <summary>Reads <paramref name="entry"/>'s stored bytes into <paramref name="destination"/> (contiguous, CPU, its dtype).</summary>
    private void CopyStored(SafeTensorEntry entry, Tensor destination)
    {
        if (entry.ByteLength == 0) return;
        if (!TensorBytes.ReadAt(destination, _file!, _dataStart + entry.Begin)) throw EndsEarly(entry);
    }

    private ModelFormatException EndsEarly(SafeTensorEntry entry) =>
        new(Path, $"tensor '{entry.Name}': the file ends early (was it cut while being read?)");

    private static (Dictionary<string, SafeTensorEntry>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try { doc = IO.StrictJson.ParseDocument(header, maxDepth: 16); }
        catch (JsonException e) { throw new ModelFormatException(path, $"header is not valid JSON: {e.Message}"); }
        catch (ArgumentException e) { throw new ModelFormatException(path, $"header is not valid UTF-8 JSON: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(path, "header must be a JSON object");
            var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>();
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new ModelFormatException(path, "'__metadata__' must be an object of strings");
                    foreach (var m in property.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new ModelFormatException(path, $"'__metadata__.{m.Name}' must be a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                if (entries.ContainsKey(property.Name))
                    throw new ModelFormatException(path, $"tensor '{property.Name}' appears twice");
                entries[property.Name] = ParseEntry(path, property, dataLength);
            }
            CheckNoOverlap(path, entries.Values);
            return (entries, metadata);
        }
    }

    private static SafeTensorEntry ParseEntry(string path, JsonProperty property, long dataLength)
    {
        string name = property.Name;
        var e = property.Value;
        ModelFormatException Bad(string what) => new(path, $"tensor '{name}': {what}");
        if (e.ValueKind != JsonValueKind.Object) throw Bad("entry must be an object");
        if (!e.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw Bad("missing 'dtype'");
        string dtypeName = dtypeEl.GetString()!;
        if (!SafeTensorsDtype.TryParse(dtypeName, out var dtype, out int elementSize))
            throw Bad($"unsupported dtype '{dtypeName}' (supported: {string.Join(", ", SafeTensorsDtype.Names)})");
        if (!e.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw Bad("missing 'shape'");
        if (shapeEl.GetArrayLength() > 16) throw Bad("more than 16 dimensions");
        var shape = new long[shapeEl.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw Bad($"shape {shapeEl.GetRawText()} must hold non-negative integers");
            shape[i++] = dim;
            try { elements = checked(elements * dim); }
            catch (OverflowException) { throw Bad($"shape {shapeEl.GetRawText()} overflows"); }
        }
        if (!e.TryGetProperty("data_offsets", out var offsetsEl) || offsetsEl.ValueKind != JsonValueKind.Array || offsetsEl.GetArrayLength() != 2)
            throw Bad("'data_offsets' must be [begin, end]");
        // TryGetInt64 leaves 0 behind on failure: a fractional or oversized offset must not read as 0.
        if (offsetsEl[0].ValueKind != JsonValueKind.Number || !offsetsEl[0].TryGetInt64(out long begin)
            || offsetsEl[1].ValueKind != JsonValueKind.Number || !offsetsEl[1].TryGetInt64(out long end))
            throw Bad($"data_offsets {offsetsEl.GetRawText()} must be two integers");
        if (begin < 0 || end < begin || end > dataLength)
            throw Bad($"data_offsets [{offsetsEl[0].GetRawText()}, {offsetsEl[1].GetRawText()}] out of range (data section is {dataLength} bytes)");
        long expectedBytes;
        try { expectedBytes = checked(elements * elementSize); }
        catch (OverflowException) { throw Bad("size overflows"); }
        if (end - begin != expectedBytes)
            throw Bad($"holds {end - begin} bytes but dtype {dtypeName} with shape [{string.Join(", ", shape)}] needs {expectedBytes}");
        return new SafeTensorEntry(name, dtypeName, dtype, shape, begin, end);
    }

    private static void CheckNoOverlap(string path, IEnumerable<SafeTensorEntry> entries)
    {
        SafeTensorEntry? previous = null;
        foreach (var entry in entries.Where(x => x.ByteLength > 0).OrderBy(x => x.Begin))
        {
            if (previous is not null && entry.Begin < previous.End)
                throw new ModelFormatException(path, $"tensors '{previous.Name}' and '{entry.Name}' overlap");
            previous = entry;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _file?.Dispose();
    }
}
