using System.Text;

namespace PeftHost.Core.Data;

/// <summary>
/// A CSV file (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes) whose first
/// row names the fields. A row with the wrong number of fields, or longer than the record limit
/// (<see cref="DataLimits"/>), is an error naming the file and line.
/// </summary>
public sealed class CsvSource(string path, char delimiter = ',', DataLimits? limits = null) : IRecordSource
{
    /// <inheritdoc />
    public string Name => path;

    /// <inheritdoc />
    public string Fingerprint => $"csv|{FileFingerprint.Of(path)}|{(int)delimiter}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read()
    {
        using var text = JsonlSource.OpenText(path);
        var rows = new CsvRowReader(text, path, delimiter, limits ?? DataLimits.Default);
        var header = rows.Next() ?? throw new DataFormatException(path, 0, "empty file: expected a header row");
        var names = header.Fields.Select(f => f.Trim().TrimStart('\uFEFF')).ToArray();
        var duplicate = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new DataFormatException(path, header.Line, $"the header names '{duplicate.Key}' twice");
        while (rows.Next() is { } row)
        {
            var (fields, line) = row;
            if (fields.Count == 1 && fields[0].Length == 0) continue;
            if (fields.Count != names.Length)
                throw new DataFormatException(path, line, $"expected {names.Length} fields (as in the header), got {fields.Count}");
            var record = new Dictionary<string, string?>(names.Length, StringComparer.Ordinal);
            for (int i = 0; i < names.Length; i++) record[names[i]] = fields[i];
            yield return new DataRecord(record, path, line);
        }
    }
}
