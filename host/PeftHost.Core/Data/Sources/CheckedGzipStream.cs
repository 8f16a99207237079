using System.IO.Compression;

namespace PeftHost.Core.Data;

/// <summary>
/// Decompresses a data file's gzip stream, turning damaged compressed data (which <see cref="GZipStream"/>
/// reports as <see cref="InvalidDataException"/> at whatever read meets it) into the data error naming the file.
/// </summary>
internal sealed class CheckedGzipStream(Stream compressed, string path) : Stream
{
    private readonly GZipStream _gzip = new(compressed, CompressionMode.Decompress);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        try { return _gzip.Read(buffer); }
        catch (InvalidDataException e) { throw new DataFormatException(path, 0, $"damaged gzip data: {e.Message}", e); }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _gzip.Dispose();
        base.Dispose(disposing);
    }
}
