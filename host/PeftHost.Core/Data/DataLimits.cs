namespace PeftHost.Core.Data;

/// <summary>
/// How much of a data file a reader may hold in memory: one record (a line, a CSV row, a text document), and
/// everything a dataset materialises. Data files are untrusted (a small gzip can hold one 2 GB line or 200
/// million tiny records), so both are refused with an error naming the file and the limit before memory runs out.
/// </summary>
/// <param name="MaxRecordChars">The longest record, in characters.</param>
/// <param name="MaxTotalBytes">The most a loaded dataset's records may take in memory (as <see cref="RecordBytes"/> estimates it).</param>
public sealed record DataLimits(long MaxRecordChars, long MaxTotalBytes)
{
    /// <summary>The longest record by default: 32 Mi characters (64 MiB in memory).</summary>
    public const long DefaultMaxRecordChars = 32L << 20;

    /// <summary>Records up to 32 Mi characters, datasets up to 4 GiB.</summary>
    public static DataLimits Default { get; } = new(DefaultMaxRecordChars, 4L << 30);

    /// <summary>The limits within a memory budget of <paramref name="bytes"/> (a recipe's <c>--max-memory</c>): datasets up to it, records up to half of it.</summary>
    public static DataLimits Within(long bytes) => new(Math.Min(DefaultMaxRecordChars, bytes / 4), bytes);

    /// <summary>
    /// What a record takes in memory, roughly: the record and its dictionary (about 200 bytes), about 100 bytes a
    /// field, and two bytes a character of every name and value.
    /// </summary>
    public static long RecordBytes(DataRecord record)
    {
        long bytes = 200;
        foreach (var (name, value) in record.Fields) bytes += 100 + 2L * (name.Length + (value?.Length ?? 0));
        return bytes;
    }

    /// <summary>The error for a record longer than <see cref="MaxRecordChars"/>.</summary>
    public DataFormatException RecordTooLong(string file, long line) =>
        new(file, line, $"a record longer than {MaxRecordChars:N0} characters (the limit on one line or record)");
}
