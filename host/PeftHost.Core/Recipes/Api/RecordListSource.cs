using PeftHost.Core.Data;

namespace PeftHost.Core.Recipes.Api;

/// <summary>Records a recipe gives in its own code, as a record source (so filters and balancing apply to them as to files).</summary>
internal sealed class RecordListSource(IReadOnlyList<DataRecord> records) : IRecordSource
{
    /// <inheritdoc />
    public string Name => "records";

    /// <summary>Identifies the records by instance: they live only as long as the run (nothing caches them on disk).</summary>
    public string Fingerprint => $"records|{records.Count}|{System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(records)}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read() => records;
}
