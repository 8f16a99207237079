namespace PeftHost.Core.Data;

/// <summary>The first records of another source (a streamed dataset's <c>limit</c>).</summary>
/// <param name="inner">The source to read from.</param>
/// <param name="count">Records kept at most.</param>
public sealed class TakenSource(IRecordSource inner, int count) : IRecordSource
{
    /// <inheritdoc />
    public string Name => inner.Name;

    /// <inheritdoc />
    public string Fingerprint => $"{inner.Fingerprint}|take {count}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read() => inner.Read().Take(count);
}
