namespace PeftHost.Core.Data;

/// <summary>The records of another source that satisfy a predicate (e.g. one SpamAssassin group).</summary>
/// <param name="inner">The source to filter.</param>
/// <param name="predicate">Which records to keep.</param>
/// <param name="description">Describes the predicate; part of the fingerprint, so it must change when the predicate does.</param>
public sealed class FilteredSource(IRecordSource inner, Func<DataRecord, bool> predicate, string description) : IRecordSource
{
    /// <inheritdoc />
    public string Name => $"{inner.Name} [{description}]";

    /// <inheritdoc />
    public string Fingerprint => $"{inner.Fingerprint}|where {description}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read() => inner.Read().Where(predicate);
}
