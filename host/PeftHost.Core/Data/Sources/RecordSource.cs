namespace PeftHost.Core.Data;

/// <summary>Opens data files by their extension.</summary>
public static class RecordSource
{
    /// <summary>
    /// A source for <paramref name="path"/>: <c>.jsonl</c>/<c>.ndjson</c>/<c>.jsonl.gz</c> → JSON Lines,
    /// <c>.csv</c> → CSV, <c>.tsv</c> → tab-separated, <c>.parquet</c> → Parquet, anything else → plain text
    /// split as <paramref name="textSplit"/> says; records longer than <paramref name="limits"/> allow are refused.
    /// </summary>
    public static IRecordSource Open(string path, TextSplit textSplit = TextSplit.Document, DataLimits? limits = null)
    {
        limits ??= DataLimits.Default;
        string name = Path.GetFileName(path).ToLowerInvariant();
        if (name.EndsWith(".gz", StringComparison.Ordinal)) name = name[..^3];
        return Path.GetExtension(name) switch
        {
            ".jsonl" or ".ndjson" or ".json" => new JsonlSource(path, limits),
            ".csv" => new CsvSource(path, ',', limits),
            ".tsv" => new CsvSource(path, '\t', limits),
            ".parquet" => new ParquetSource(path, limits),
            _ => new TextFileSource(path, textSplit, limits: limits),
        };
    }

    /// <summary>
    /// <paramref name="source"/>, refusing the record that takes what its consumer keeps past
    /// <paramref name="limits"/>' total (<paramref name="limitName"/> says where that limit comes from).
    /// </summary>
    public static IRecordSource WithinMemory(this IRecordSource source, DataLimits limits, string limitName) =>
        new SizeCappedSource(source, limits, limitName);

    /// <summary>The records of <paramref name="source"/> for which <paramref name="predicate"/> holds.</summary>
    public static IRecordSource Where(this IRecordSource source, Func<DataRecord, bool> predicate, string description) =>
        new FilteredSource(source, predicate, description);

    /// <summary>The first <paramref name="count"/> records of <paramref name="source"/>.</summary>
    public static IRecordSource Take(this IRecordSource source, int count) => new TakenSource(source, count);

    /// <summary>Undersamples to as many records per value of <paramref name="field"/> as the rarest value has (seeded).</summary>
    public static IRecordSource BalanceBy(this IRecordSource source, string field, long seed = 0) => new BalancedSource(source, field, seed);

    /// <summary>The records whose <paramref name="field"/> equals one of <paramref name="values"/>.</summary>
    public static IRecordSource WhereField(this IRecordSource source, string field, params string[] values)
    {
        var set = values.ToHashSet(StringComparer.Ordinal);
        return new FilteredSource(source, r => r.Optional(field) is string v && set.Contains(v), $"{field} in [{string.Join(",", values)}]");
    }
}
