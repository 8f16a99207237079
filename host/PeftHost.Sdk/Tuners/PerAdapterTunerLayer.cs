using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// A <see cref="LinearTunerLayer"/> holding several adapters by name, each with settings of type
/// <typeparamref name="TSettings"/> (its tensors and options): the adapter-name bookkeeping every
/// multi-adapter layer needs, and the two routing questions its forward pass asks — which adapters run
/// for the whole batch, and which adapter each row of a mixed-adapter batch uses.
/// <para>
/// Methods that add no weight delta (a learned bias, a scale on activations) derive from this class
/// directly; methods that add a ΔW derive from <see cref="LinearTunerLayer{TSettings}"/>, which adds
/// <c>DeltaWeight</c>.
/// </para>
/// </summary>
/// <typeparam name="TSettings">What the layer keeps per adapter.</typeparam>
public abstract class PerAdapterTunerLayer<TSettings> : LinearTunerLayer
{
    /// <inheritdoc cref="LinearTunerLayer(string, string, nn.Module, IAdapterRouting)" />
    protected PerAdapterTunerLayer(string name, string methodName, nn.Module baseLayer, IAdapterRouting routing)
        : base(name, methodName, baseLayer, routing) { }

    /// <summary>The settings of each adapter on this layer, by name.</summary>
    protected Dictionary<string, TSettings> AdapterSettings { get; } = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public override IReadOnlyCollection<string> AdapterNames => AdapterSettings.Keys;

    /// <inheritdoc />
    public override bool HasAdapter(string adapter) => AdapterSettings.ContainsKey(adapter);

    /// <summary>The settings of <paramref name="adapter"/>.</summary>
    /// <exception cref="KeyNotFoundException">The adapter is not on this layer.</exception>
    public TSettings Settings(string adapter) =>
        AdapterSettings.TryGetValue(adapter, out var s) ? s : throw new KeyNotFoundException($"adapter '{adapter}' is not on this layer");

    /// <summary>Adds <paramref name="adapter"/> with its <paramref name="settings"/>.</summary>
    /// <exception cref="InvalidOperationException">The adapter is already on this layer.</exception>
    protected void AddAdapterSettings(string adapter, TSettings settings)
    {
        EnsureNewAdapter(adapter);
        AdapterSettings.Add(adapter, settings);
    }

    /// <summary>
    /// The adapters that run for every row of this forward pass, in activation order: active, on this
    /// layer and not merged (a merged adapter already acts through the base weight). Empty inside a
    /// disable-adapters scope or for a mixed-adapter batch (see <see cref="RowSettings"/>).
    /// </summary>
    protected IEnumerable<(string Name, TSettings Settings)> ActiveAdapterSettings()
    {
        if (Routing.AdaptersDisabled || Routing.RowAdapterNames is not null) yield break;
        foreach (var name in Routing.ActiveAdapters)
        {
            if (AdapterSettings.TryGetValue(name, out var settings) && !Merged.Contains(name)) yield return (name, settings);
        }
    }

    /// <summary>
    /// For a mixed-adapter batch (<see cref="IAdapterRouting.RowAdapterNames"/>): the settings of each row's
    /// adapter, or <c>default</c> for a row whose adapter is not on this layer (or is the base model).
    /// </summary>
    /// <exception cref="ArgumentException">The batch does not name one adapter per row of <paramref name="x"/>.</exception>
    /// <exception cref="InvalidOperationException">A row's adapter is merged: rows could not tell it apart from the base.</exception>
    protected IReadOnlyList<TSettings?> RowSettings(IReadOnlyList<string> rows, Tensor x)
    {
        CheckRowAdapterCount(rows, x);
        var merged = rows.FirstOrDefault(Merged.Contains);
        if (merged is not null)
            throw new InvalidOperationException($"mixed-adapter batch: adapter '{merged}' is merged into the base weight; unmerge it first");
        return rows.Select(r => AdapterSettings.TryGetValue(r, out var s) ? s : default).ToArray();
    }

    /// <summary>Disposes the adapter's tensors (<see cref="DisposeAdapter"/>), then forgets its settings.</summary>
    protected sealed override void DropAdapter(string adapter, bool keepMerged)
    {
        DisposeAdapter(adapter, AdapterSettings[adapter], keepMerged);
        AdapterSettings.Remove(adapter);
    }

    /// <summary>Disposes the tensors of <paramref name="adapter"/>, which is being removed (and is no longer merged).</summary>
    /// <param name="adapter">The adapter.</param>
    /// <param name="settings">Its settings.</param>
    /// <param name="keepMerged">True when the base weight keeps whatever the adapter left in it.</param>
    protected abstract void DisposeAdapter(string adapter, TSettings settings, bool keepMerged);
}
