using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// A <see cref="LinearTunerLayer"/> whose adapters each carry settings of type <typeparamref name="TSettings"/>
/// (rank, scaling, dropout, …) and add a weight delta ΔW to the base weight, as LoRA's and AdaLoRA's do.
/// </summary>
/// <typeparam name="TSettings">The per-adapter settings.</typeparam>
public abstract class LinearTunerLayer<TSettings> : LinearTunerLayer
{
    /// <inheritdoc cref="LinearTunerLayer(string, string, nn.Module, IAdapterRouting)" />
    protected LinearTunerLayer(string name, string methodName, nn.Module baseLayer, IAdapterRouting routing)
        : base(name, methodName, baseLayer, routing) { }

    /// <summary>The settings of each adapter on this layer, by name: the subclass adds an entry when it adds an adapter.</summary>
    protected Dictionary<string, TSettings> AdapterSettings { get; } = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public override bool HasAdapter(string adapter) => AdapterSettings.ContainsKey(adapter);

    /// <summary>The settings of <paramref name="adapter"/>.</summary>
    /// <exception cref="KeyNotFoundException">The adapter is not on this layer.</exception>
    public TSettings Settings(string adapter) =>
        AdapterSettings.TryGetValue(adapter, out var s) ? s : throw new KeyNotFoundException($"adapter '{adapter}' is not on this layer");

    /// <summary>ΔW [out, in] of <paramref name="adapter"/> in float32 (PEFT's <c>get_delta_weight</c>), computed without autograd.</summary>
    /// <exception cref="KeyNotFoundException">The adapter is not on this layer.</exception>
    public Tensor DeltaWeight(string adapter)
    {
        var settings = Settings(adapter);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return ComputeDeltaWeight(adapter, settings).MoveToOuterDisposeScope();
    }

    /// <summary>ΔW [out, in] of <paramref name="adapter"/> in float32; runs inside <see cref="DeltaWeight"/>'s no-grad dispose scope.</summary>
    protected abstract Tensor ComputeDeltaWeight(string adapter, TSettings settings);

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
