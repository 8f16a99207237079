using System.Globalization;
using Parquet.Serialization;

namespace PeftHost.Core.Data;

/// <summary>
/// A Parquet file (read with Parquet.Net). Every column becomes a field: strings as they are,
/// other values in invariant culture. A record's <see cref="DataRecord.Line"/> is its 1-based row.
/// </summary>
public sealed class ParquetSource(string path) : IRecordSource
{
    /// <inheritdoc />
    public string Name => path;

    /// <inheritdoc />
    public string Fingerprint => $"parquet|{FileFingerprint.Of(path)}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read()
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        IList<Dictionary<string, object>> rows;
        try
        {
            using var stream = File.OpenRead(path);
            rows = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException
                                       || e.GetType().Namespace?.StartsWith("Parquet", StringComparison.Ordinal) == true)
        {
            throw new DataFormatException(path, 0, $"cannot read as Parquet: {e.Message}", e);
        }
        long row = 0;
        foreach (var values in rows)
        {
            row++;
            var fields = new Dictionary<string, string?>(values.Count, StringComparer.Ordinal);
            foreach (var (name, value) in values) fields[name] = Text(value);
            yield return new DataRecord(fields, path, row);
        }
    }

    private static string? Text(object? value) => value switch
    {
        null => null,
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
