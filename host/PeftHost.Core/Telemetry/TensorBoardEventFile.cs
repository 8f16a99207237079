using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using PeftHost.Core.IO;

namespace PeftHost.Core.Telemetry;

/// <summary>
/// A TensorBoard event file (<c>events.out.tfevents.SECONDS.HOST.PID.N</c>) holding scalar summaries, in TensorFlow's
/// record format: each record is its length (u64, little-endian), the masked CRC-32C of those 8 bytes, the data, and
/// the masked CRC-32C of the data; the data is an <c>Event</c> protobuf (wall_time, step, and either file_version or
/// summary.value { tag, simple_value }). The first record names the format version, as TensorFlow's writer does.
/// Each record is flushed as written, so TensorBoard shows a run while it trains. The file is opened through
/// <see cref="WriteConfinement"/>.
/// </summary>
public sealed class TensorBoardEventFile : IDisposable
{
    private const string FileVersion = "brain.Event:2";
    private static int s_files;
    private readonly FileStream _file;

    /// <summary>Creates a new event file in <paramref name="directory"/> (created when missing).</summary>
    public TensorBoardEventFile(string directory)
    {
        WriteConfinement.CreateDirectory(directory);
        double now = UnixSeconds();
        // TensorBoard reads every file whose name contains "tfevents"; the counter keeps two writers of one process apart.
        Path = System.IO.Path.Combine(directory, string.Create(CultureInfo.InvariantCulture,
            $"events.out.tfevents.{(long)now}.{Environment.MachineName}.{Environment.ProcessId}.{Interlocked.Increment(ref s_files)}"));
        _file = WriteConfinement.OpenAppend(Path);
        var header = new ProtoWriter();
        header.Double(1, now);
        header.Bytes(3, Encoding.UTF8.GetBytes(FileVersion));
        WriteRecord(header.ToArray());
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Writes one event holding <paramref name="scalars"/> (tag → value) at <paramref name="step"/>.</summary>
    public void WriteScalars(long step, IEnumerable<KeyValuePair<string, double>> scalars)
    {
        var summary = new ProtoWriter();
        foreach (var (tag, value) in scalars)
        {
            var v = new ProtoWriter();
            v.Bytes(1, Encoding.UTF8.GetBytes(tag));
            v.Float(2, (float)value);
            summary.Bytes(1, v.ToArray());
        }
        var e = new ProtoWriter();
        e.Double(1, UnixSeconds());
        e.Varint(2, (ulong)step);
        e.Bytes(5, summary.ToArray());
        WriteRecord(e.ToArray());
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    /// <summary>CRC-32C (Castagnoli) of <paramref name="data"/>, masked as TensorFlow's records store it.</summary>
    public static uint MaskedCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        crc = ~crc;
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    private void WriteRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc32C(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc32C(data));
        _file.Write(header);
        _file.Write(data);
        _file.Write(footer);
        _file.Flush();
    }

    private static double UnixSeconds() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds;

    /// <summary>The few protobuf encodings an Event needs: varints, 64-bit doubles, 32-bit floats, length-delimited fields.</summary>
    private sealed class ProtoWriter
    {
        private readonly MemoryStream _bytes = new();

        public void Varint(int field, ulong value)
        {
            Tag(field, 0);
            RawVarint(value);
        }

        public void Double(int field, double value)
        {
            Tag(field, 1);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(b, value);
            _bytes.Write(b);
        }

        public void Float(int field, float value)
        {
            Tag(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            _bytes.Write(b);
        }

        public void Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            RawVarint((ulong)value.Length);
            _bytes.Write(value);
        }

        public byte[] ToArray() => _bytes.ToArray();

        private void Tag(int field, int wireType) => RawVarint((ulong)((field << 3) | wireType));

        private void RawVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.WriteByte((byte)value);
        }
    }
}
