namespace PeftHost.Core.Data;

/// <summary>One row of a data source: named text fields and where the row came from.</summary>
/// <param name="Fields">Field values by name (null for a JSON null or an empty Parquet cell).</param>
/// <param name="File">The source file.</param>
/// <param name="Line">The 1-based line (JSONL, CSV, text) or row (Parquet).</param>
public sealed record DataRecord(IReadOnlyDictionary<string, string?> Fields, string File, long Line)
{
    /// <summary>"file:line", for messages.</summary>
    public string Origin => $"{File}:{Line}";

    /// <summary>The value of <paramref name="field"/>; a missing or null field is an error naming the file and line.</summary>
    public string Require(string field)
    {
        if (!Fields.TryGetValue(field, out var value))
            throw new DataFormatException(File, Line, $"missing field '{field}' (has: {string.Join(", ", Fields.Keys)})");
        return value ?? throw new DataFormatException(File, Line, $"field '{field}' is null");
    }

    /// <summary>The value of <paramref name="field"/>, or null when it is absent or null.</summary>
    public string? Optional(string field) => Fields.TryGetValue(field, out var value) ? value : null;

    /// <summary>An error about this record.</summary>
    public DataFormatException Error(string message) => new(File, Line, message);
}
