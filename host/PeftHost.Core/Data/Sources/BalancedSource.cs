namespace PeftHost.Core.Data;

/// <summary>
/// Class balance by undersampling: every value of a field keeps as many records as the rarest
/// value has, chosen by a seeded permutation; the kept records stay in file order.
/// </summary>
/// <param name="inner">The source to balance.</param>
/// <param name="fieldName">The field whose values are balanced (e.g. "label").</param>
/// <param name="seed">Chooses which records of the larger classes are kept.</param>
public sealed class BalancedSource(IRecordSource inner, string fieldName, long seed) : IRecordSource
{
    /// <inheritdoc />
    public string Name => $"{inner.Name} [balanced by {fieldName}]";

    /// <inheritdoc />
    public string Fingerprint => $"{inner.Fingerprint}|balance {fieldName} {seed}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read()
    {
        var records = inner.Read().ToList();
        var byValue = records.Select((r, i) => (Value: r.Require(fieldName), Index: i)).GroupBy(x => x.Value, StringComparer.Ordinal).ToList();
        if (byValue.Count == 0) return [];
        int keep = byValue.Min(g => g.Count());
        var kept = new SortedSet<int>();
        int classIndex = 0;
        foreach (var group in byValue.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var members = group.Select(x => x.Index).ToArray();
            var order = DeterministicShuffle.Permutation(members.Length, DeterministicShuffle.Combine(seed, classIndex++));
            foreach (int i in order.Take(keep)) kept.Add(members[i]);
        }
        return kept.Select(i => records[i]).ToList();
    }
}
