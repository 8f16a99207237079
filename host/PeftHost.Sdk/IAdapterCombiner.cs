namespace PeftHost.Sdk;

/// <summary>
/// Implemented by methods whose adapters can be combined into a new one, as PEFT's
/// <c>add_weighted_adapter</c> does for LoRA.
/// </summary>
public interface IAdapterCombiner
{
    /// <summary>Combination types this method supports (e.g. <c>linear</c>, <c>cat</c>, <c>svd</c>).</summary>
    IReadOnlyList<string> CombinationTypes { get; }

    /// <summary>
    /// Creates adapter <paramref name="newName"/> on <paramref name="model"/> from
    /// <paramref name="adapters"/> weighted by <paramref name="weights"/>.
    /// </summary>
    IAdapter Combine(IPeftModelSurface model, IReadOnlyList<IAdapter> adapters, IReadOnlyList<double> weights,
        string newName, string combinationType, int? svdRank = null);
}
