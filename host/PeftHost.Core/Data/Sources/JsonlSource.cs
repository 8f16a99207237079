using System.Text;
using System.Text.Json;
using PeftHost.Core.IO;

namespace PeftHost.Core.Data;

/// <summary>
/// JSON Lines (<c>.jsonl</c>, or gzip-compressed <c>.jsonl.gz</c>): one JSON object a line.
/// Strings are taken as they are; numbers and booleans as their JSON text; nested values as
/// JSON text. Blank lines are skipped; a line that is not a JSON object is an error naming
/// the file and line, and so is a line longer than the record limit (<see cref="DataLimits"/>).
/// </summary>
public sealed class JsonlSource(string path, DataLimits? limits = null) : IRecordSource
{
    /// <inheritdoc />
    public string Name => path;

    /// <inheritdoc />
    public string Fingerprint => $"jsonl|{FileFingerprint.Of(path)}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read()
    {
        using var reader = OpenText(path);
        var lines = new LineReader(reader, path, limits ?? DataLimits.Default);
        string? line;
        while ((line = lines.ReadLine()) is not null)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            yield return Parse(line, lines.LineNumber);
        }
    }

    private DataRecord Parse(string line, long lineNumber)
    {
        JsonDocument doc;
        try { doc = StrictJson.ParseDocument(Encoding.UTF8.GetBytes(line)); } // every string checked: a lone surrogate escape is refused here
        catch (JsonException e) { throw new DataFormatException(path, lineNumber, $"invalid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new DataFormatException(path, lineNumber, $"expected a JSON object, got {doc.RootElement.ValueKind}");
            var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                fields[property.Name] = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString(),
                    JsonValueKind.Null => null,
                    _ => property.Value.GetRawText(),
                };
            }
            return new DataRecord(fields, path, lineNumber);
        }
    }

    /// <summary>Opens a text file, decompressing it when its name ends in <c>.gz</c> or it starts with the gzip magic bytes.</summary>
    internal static StreamReader OpenText(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Stream stream = file;
        Span<byte> magic = stackalloc byte[2];
        int read = file.Read(magic);
        file.Position = 0;
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || (read == 2 && magic[0] == 0x1f && magic[1] == 0x8b))
            stream = new CheckedGzipStream(file, path);
        return new StreamReader(stream, Encoding.UTF8);
    }
}
