using System.Text;

namespace PeftHost.Core.Export.Gguf;

/// <summary>The value types of GGUF metadata (<c>gguf_type</c> in ggml's gguf.h).</summary>
public enum GgufValueType : uint
{
    /// <summary>8-bit unsigned.</summary>
    UInt8 = 0,
    /// <summary>8-bit signed.</summary>
    Int8 = 1,
    /// <summary>16-bit unsigned.</summary>
    UInt16 = 2,
    /// <summary>16-bit signed.</summary>
    Int16 = 3,
    /// <summary>32-bit unsigned.</summary>
    UInt32 = 4,
    /// <summary>32-bit signed.</summary>
    Int32 = 5,
    /// <summary>32-bit float.</summary>
    Float32 = 6,
    /// <summary>One byte, 0 or 1.</summary>
    Bool = 7,
    /// <summary>UTF-8 with a 64-bit length, no terminator.</summary>
    String = 8,
    /// <summary>Element type, 64-bit count, elements.</summary>
    Array = 9,
    /// <summary>64-bit unsigned.</summary>
    UInt64 = 10,
    /// <summary>64-bit signed.</summary>
    Int64 = 11,
    /// <summary>64-bit float.</summary>
    Float64 = 12,
}

/// <summary>One typed metadata value: a scalar, a string, or an array of one scalar or string type.</summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    /// <summary>A uint32.</summary>
    public static GgufValue U32(uint v) => new(GgufValueType.UInt32, v);
    /// <summary>An int32.</summary>
    public static GgufValue I32(int v) => new(GgufValueType.Int32, v);
    /// <summary>A float32.</summary>
    public static GgufValue F32(float v) => new(GgufValueType.Float32, v);
    /// <summary>A bool.</summary>
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, v);
    /// <summary>A string.</summary>
    public static GgufValue Str(string v) => new(GgufValueType.String, v);
    /// <summary>An array of strings.</summary>
    public static GgufValue Strings(IReadOnlyList<string> v) => new(GgufValueType.Array, v, GgufValueType.String);
    /// <summary>An array of float32.</summary>
    public static GgufValue Floats(IReadOnlyList<float> v) => new(GgufValueType.Array, v, GgufValueType.Float32);
    /// <summary>An array of int32.</summary>
    public static GgufValue Ints(IReadOnlyList<int> v) => new(GgufValueType.Array, v, GgufValueType.Int32);
}

/// <summary>
/// A tensor to be written: its name, its shape in PyTorch order (outermost first; the file stores it
/// innermost first, as ggml's <c>ne</c>), its ggml type, and how to produce its encoded bytes, called
/// once when the writer reaches it so that only one tensor's data is in memory at a time.
/// </summary>
public sealed record GgufTensor(string Name, long[] Shape, GgmlType Type, Func<byte[]> Encode)
{
    /// <summary>The encoded size in bytes.</summary>
    public long ByteSize => GgmlTypes.ByteSize(Type, Shape);
}

/// <summary>
/// Writes GGUF version 3 files (ggml's <c>gguf.h</c>; gguf-py's <c>GGUFWriter</c>): magic, version, tensor and
/// metadata counts, the metadata, the tensor infos, padding to the alignment, then each tensor's data padded to
/// the alignment. Everything is little-endian.
/// </summary>
public static class GgufWriter
{
    /// <summary>The data alignment llama.cpp uses unless <c>general.alignment</c> says otherwise.</summary>
    public const int Alignment = 32;

    private const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    private const uint Version = 3;

    /// <summary>Writes metadata (in the order given) and tensors to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<GgufTensor> tensors)
    {
        var duplicate = tensors.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidOperationException($"tensor {duplicate.Key} is written twice");
        using var w = new BinaryWriter(stream, new UTF8Encoding(false), leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }
        long offset = 0;
        foreach (var t in tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            for (int i = t.Shape.Length - 1; i >= 0; i--) w.Write((ulong)t.Shape[i]);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset += Padded(t.ByteSize);
        }
        w.Flush();
        Pad(w, stream.Position);
        foreach (var t in tensors)
        {
            var data = t.Encode();
            if (data.LongLength != t.ByteSize)
                throw new InvalidOperationException($"tensor {t.Name}: encoded {data.LongLength} bytes, expected {t.ByteSize}");
            w.Write(data);
            Pad(w, data.LongLength);
        }
        w.Flush();
    }

    private static long Padded(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w, long written)
    {
        for (long i = written; i < Padded(written); i++) w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        switch (v.Type)
        {
            case GgufValueType.UInt32: w.Write((uint)v.Value); break;
            case GgufValueType.Int32: w.Write((int)v.Value); break;
            case GgufValueType.Float32: w.Write((float)v.Value); break;
            case GgufValueType.Bool: w.Write((bool)v.Value ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(w, (string)v.Value); break;
            case GgufValueType.Array:
                w.Write((uint)v.ElementType);
                switch (v.Value)
                {
                    case IReadOnlyList<string> strings:
                        w.Write((ulong)strings.Count);
                        foreach (var s in strings) WriteString(w, s);
                        break;
                    case IReadOnlyList<float> floats:
                        w.Write((ulong)floats.Count);
                        foreach (var f in floats) w.Write(f);
                        break;
                    case IReadOnlyList<int> ints:
                        w.Write((ulong)ints.Count);
                        foreach (var i in ints) w.Write(i);
                        break;
                    default: throw new InvalidOperationException($"unsupported GGUF array element type {v.ElementType}");
                }
                break;
            default: throw new InvalidOperationException($"unsupported GGUF value type {v.Type}");
        }
    }
}
