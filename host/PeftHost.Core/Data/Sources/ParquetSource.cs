using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet.Serialization;

namespace PeftHost.Core.Data;

/// <summary>
/// A Parquet file (read with Parquet.Net). Every column becomes a field: strings as they are,
/// lists and structs as JSON text, other values in invariant culture. A record's <see cref="DataRecord.Line"/> is its 1-based row.
/// Parquet.Net reads the file whole, so a file larger than the dataset limit (<see cref="DataLimits"/>) is
/// refused before it is read, and a value longer than the record limit after.
/// </summary>
public sealed class ParquetSource(string path, DataLimits? limits = null) : IRecordSource
{
    /// <inheritdoc />
    public string Name => path;

    /// <inheritdoc />
    public string Fingerprint => $"parquet|{FileFingerprint.Of(path)}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read()
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        var bounds = limits ?? DataLimits.Default;
        long size = new FileInfo(path).Length;
        if (size > bounds.MaxTotalBytes)
            throw new DataFormatException(path, 0, $"the file ({size:N0} bytes) is larger than the {bounds.MaxTotalBytes:N0} bytes a dataset may take in memory");
        IList<Dictionary<string, object>> rows;
        try
        {
            using var stream = File.OpenRead(path);
            rows = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A damaged file surfaces from Parquet.Net as any exception type (index out of range, format, I/O): all mean the same.
            throw new DataFormatException(path, 0, $"cannot read as Parquet: {e.Message}", e);
        }
        long row = 0;
        foreach (var values in rows)
        {
            row++;
            var fields = new Dictionary<string, string?>(values.Count, StringComparer.Ordinal);
            foreach (var (name, value) in values)
            {
                var text = Text(value);
                if (text?.Length > bounds.MaxRecordChars) throw bounds.RecordTooLong(path, row);
                fields[name] = text;
            }
            yield return new DataRecord(fields, path, row);
        }
    }

    private static string? Text(object? value) => value switch
    {
        null => null,
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        // Lists and structs (a conversation's messages, say) as JSON text, as JSON Lines gives nested values.
        IDictionary or IEnumerable => Json(value)!.ToJsonString(),
        _ => value.ToString(),
    };

    private static JsonNode? Json(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        IDictionary map => new JsonObject(map.Keys.Cast<object>().Select(k => KeyValuePair.Create(k.ToString()!, Json(map[k])))),
        IEnumerable list => new JsonArray(list.Cast<object?>().Select(Json).ToArray()),
        _ => JsonSerializer.SerializeToNode(value, value.GetType()),
    };
}
