using System.Text;

namespace PeftHost.Tests.Dashboard;

/// <summary>
/// Reads a GGUF version 3 file back (ggml's <c>gguf.h</c> layout: header, metadata, tensor infos, aligned data) for tests:
/// the metadata's string values and every tensor's shape (outermost first, as PyTorch), type and, for f32 tensors, values.
/// Independent of the writer it checks.
/// </summary>
internal sealed class GgufTestReader
{
    private const uint Magic = 0x46554747;

    public required uint Version { get; init; }

    public required IReadOnlyDictionary<string, object> Metadata { get; init; }

    public required IReadOnlyDictionary<string, (long[] Shape, uint Type, float[]? Values)> Tensors { get; init; }

    public static GgufTestReader Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        Assert.Equal(Magic, r.ReadUInt32());
        uint version = r.ReadUInt32();
        long tensorCount = (long)r.ReadUInt64();
        long kvCount = (long)r.ReadUInt64();
        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        for (long i = 0; i < kvCount; i++)
        {
            string key = ReadString(r);
            metadata[key] = ReadValue(r, r.ReadUInt32());
        }
        var infos = new List<(string Name, long[] Shape, uint Type, long Offset)>();
        for (long i = 0; i < tensorCount; i++)
        {
            string name = ReadString(r);
            uint dims = r.ReadUInt32();
            var ne = new long[dims];
            for (int d = 0; d < dims; d++) ne[d] = (long)r.ReadUInt64();
            uint type = r.ReadUInt32();
            long offset = (long)r.ReadUInt64();
            infos.Add((name, ne.Reverse().ToArray(), type, offset));
        }
        long alignment = metadata.TryGetValue("general.alignment", out var a) ? Convert.ToInt64(a, System.Globalization.CultureInfo.InvariantCulture) : 32;
        long dataStart = (stream.Position + alignment - 1) / alignment * alignment;
        var tensors = new Dictionary<string, (long[], uint, float[]?)>(StringComparer.Ordinal);
        foreach (var (name, shape, type, offset) in infos)
        {
            float[]? values = null;
            if (type == 0) // f32
            {
                stream.Position = dataStart + offset;
                long count = shape.Aggregate(1L, (x, y) => x * y);
                values = new float[count];
                for (long k = 0; k < count; k++) values[k] = r.ReadSingle();
            }
            tensors[name] = (shape, type, values);
        }
        return new GgufTestReader { Version = version, Metadata = metadata, Tensors = tensors };
    }

    private static string ReadString(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadUInt64())));

    private static object ReadValue(BinaryReader r, uint type) => type switch
    {
        0 => r.ReadByte(),
        1 => r.ReadSByte(),
        2 => r.ReadUInt16(),
        3 => r.ReadInt16(),
        4 => r.ReadUInt32(),
        5 => r.ReadInt32(),
        6 => r.ReadSingle(),
        7 => r.ReadByte() != 0,
        8 => ReadString(r),
        9 => ReadArray(r),
        10 => r.ReadUInt64(),
        11 => r.ReadInt64(),
        12 => r.ReadDouble(),
        _ => throw new InvalidDataException($"unknown GGUF value type {type}"),
    };

    private static object[] ReadArray(BinaryReader r)
    {
        uint itemType = r.ReadUInt32();
        long count = (long)r.ReadUInt64();
        var items = new object[count];
        for (long i = 0; i < count; i++) items[i] = ReadValue(r, itemType);
        return items;
    }
}
