namespace PeftHost.Core.Data;

/// <summary>
/// Passes records through while counting what they take in memory (<see cref="DataLimits.RecordBytes"/>), and
/// refuses the one that takes a consumer that keeps them all (a dataset, a balancing pass) past the limit.
/// </summary>
internal sealed class SizeCappedSource(IRecordSource inner, DataLimits limits, string limitName) : IRecordSource
{
    /// <inheritdoc />
    public string Name => inner.Name;

    /// <inheritdoc />
    public string Fingerprint => inner.Fingerprint;

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read()
    {
        long total = 0;
        foreach (var record in inner.Read())
        {
            total += DataLimits.RecordBytes(record);
            if (total > limits.MaxTotalBytes)
                throw record.Error($"the records read so far take more than {limits.MaxTotalBytes / (1024.0 * 1024.0):N0} MiB in memory ({limitName}); " +
                    "load a part of the file (a where filter, or split the file)");
            yield return record;
        }
    }
}
