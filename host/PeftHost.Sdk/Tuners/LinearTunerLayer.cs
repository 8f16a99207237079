using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// The plumbing of a layer that wraps a linear layer and holds adapters on it, as PEFT's tuner layers do
/// (<c>lora.Linear</c>, <c>ia3.Linear</c>, …): the wrapped layer is the child <c>base_layer</c>, and the layer
/// keeps the list of adapters merged into the base weight. The adapters' own parameters, their forward and their
/// merge arithmetic belong to the subclass, which registers its adapter dictionaries under PEFT's names.
/// </summary>
public abstract class LinearTunerLayer : CanonicalModule<Tensor, Tensor>
{
    /// <summary>Child name of the wrapped layer.</summary>
    public const string BaseLayerName = "base_layer";

    /// <summary>
    /// Wraps <paramref name="baseLayer"/> (a <see cref="Linear"/> or an <see cref="ILinearLayer"/>) and registers it
    /// as the child <c>base_layer</c>.
    /// </summary>
    /// <param name="name">The module's name (PEFT's class, e.g. <c>lora.Linear</c>).</param>
    /// <param name="methodName">The method's display name, for the error on a layer that is not linear.</param>
    /// <param name="baseLayer">The layer to adapt.</param>
    /// <param name="routing">The model's routing state, read on every forward pass.</param>
    /// <exception cref="ArgumentException"><paramref name="baseLayer"/> is not a linear layer.</exception>
    protected LinearTunerLayer(string name, string methodName, nn.Module baseLayer, IAdapterRouting routing) : base(name)
    {
        if (!LinearLayers.IsLinear(baseLayer) || baseLayer is not nn.Module<Tensor, Tensor> forward)
            throw new ArgumentException($"{methodName} wraps linear layers; got {baseLayer.GetType().Name}", nameof(baseLayer));
        BaseLayer = forward;
        Routing = routing;
        (InFeatures, OutFeatures) = LinearLayers.Features(baseLayer);
        register_module(BaseLayerName, baseLayer);
    }

    /// <summary>The wrapped layer.</summary>
    public nn.Module<Tensor, Tensor> BaseLayer { get; }

    /// <summary>Input features.</summary>
    public long InFeatures { get; }

    /// <summary>Output features.</summary>
    public long OutFeatures { get; }

    /// <summary>The model's routing state (active adapters, disabled scope, per-row adapters).</summary>
    protected IAdapterRouting Routing { get; }

    /// <summary>The adapters merged into the base weight, in merge order; the subclass's merge and unmerge keep it.</summary>
    protected List<string> Merged { get; } = [];

    /// <summary>The adapters currently merged into the base weight, in merge order.</summary>
    public IReadOnlyList<string> MergedAdapters => Merged;

    /// <summary>True when <paramref name="adapter"/> is merged into this layer's base weight.</summary>
    public bool IsMerged(string adapter) => Merged.Contains(adapter);

    /// <summary>The adapters on this layer.</summary>
    public abstract IReadOnlyCollection<string> AdapterNames { get; }

    /// <summary>True when <paramref name="adapter"/> lives on this layer.</summary>
    public abstract bool HasAdapter(string adapter);

    /// <summary>Folds <paramref name="adapter"/> into the base weight; nothing when it is not here or already merged.</summary>
    public abstract void Merge(string adapter);

    /// <summary>Takes <paramref name="adapter"/> back out of the base weight; nothing when it is not merged.</summary>
    public abstract void Unmerge(string adapter);

    /// <summary>
    /// Removes <paramref name="adapter"/> from this layer: a merged adapter is unmerged first, unless
    /// <paramref name="keepMerged"/> is true (the base weight then keeps it); then <see cref="DropAdapter"/>
    /// disposes its tensors. Nothing happens for an adapter that is not on this layer.
    /// </summary>
    public void RemoveAdapter(string adapter, bool keepMerged = false)
    {
        if (!HasAdapter(adapter)) return;
        if (Merged.Contains(adapter))
        {
            if (keepMerged) Merged.Remove(adapter);
            else Unmerge(adapter);
        }
        DropAdapter(adapter, keepMerged);
    }

    /// <summary>
    /// Forgets <paramref name="adapter"/> and disposes its tensors; called by <see cref="RemoveAdapter"/> once the
    /// adapter is no longer in <see cref="Merged"/>.
    /// </summary>
    /// <param name="adapter">The adapter, present on this layer.</param>
    /// <param name="keepMerged">True when the base weight keeps whatever the adapter left in it.</param>
    protected abstract void DropAdapter(string adapter, bool keepMerged);

    /// <summary>
    /// The forward pass inside a disable-adapters scope: the merged adapters are taken out of the base weight, in
    /// merge order, and the base layer alone runs.
    /// </summary>
    protected Tensor DisabledForward(Tensor x)
    {
        foreach (var name in Merged.ToArray()) Unmerge(name);
        return BaseLayer.forward(x);
    }

    /// <summary>Throws when <paramref name="adapter"/> is already on this layer (the check before adding it).</summary>
    /// <exception cref="InvalidOperationException">The adapter is already on this layer.</exception>
    protected void EnsureNewAdapter(string adapter)
    {
        if (HasAdapter(adapter)) throw new InvalidOperationException($"adapter '{adapter}' is already on this layer");
    }

    /// <summary>Throws unless a mixed-adapter batch names one adapter per row of <paramref name="x"/>.</summary>
    /// <exception cref="ArgumentException">The counts differ.</exception>
    protected static void CheckRowAdapterCount(IReadOnlyList<string> rows, Tensor x)
    {
        if (rows.Count != x.shape[0])
            throw new ArgumentException($"mixed-adapter batch: {rows.Count} adapter names for a batch of {x.shape[0]} rows");
    }
}
