using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// The plumbing of an adapter that lives in <see cref="LinearTunerLayer"/>s, one per adapted module: its name,
/// config and layers by module path; merging and unmerging layer by layer; and removal, which puts a layer's
/// wrapped module back once its last adapter is gone. The subclass says what is trained and saved.
/// </summary>
/// <typeparam name="TLayer">The method's layer type.</typeparam>
public abstract class TunerLayerAdapter<TLayer> : IAdapter where TLayer : LinearTunerLayer
{
    /// <summary>The prefix PEFT puts in front of module paths in saved keys (<see cref="AdapterStateDict.KeyPrefix"/>).</summary>
    public const string KeyPrefix = AdapterStateDict.KeyPrefix;

    private readonly List<(string Path, TLayer Layer)> _layers;

    /// <summary>Creates the adapter <paramref name="name"/> held by <paramref name="layers"/> on <paramref name="surface"/>'s model.</summary>
    /// <param name="surface">The model.</param>
    /// <param name="name">The adapter's name.</param>
    /// <param name="config">The config it was made from.</param>
    /// <param name="layers">The layers holding it, with their module paths; the adapter owns the list (it is emptied on removal).</param>
    protected TunerLayerAdapter(IPeftModelSurface surface, string name, PeftConfig config, List<(string Path, TLayer Layer)> layers)
    {
        Surface = surface;
        Name = name;
        Config = config;
        _layers = layers;
    }

    /// <summary>The model the adapter lives on.</summary>
    protected IPeftModelSurface Surface { get; }

    /// <summary>True once <see cref="Remove"/> has run.</summary>
    protected bool IsRemoved { get; private set; }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public PeftConfig Config { get; }

    /// <summary>The adapted modules, by path (empty once removed).</summary>
    public IReadOnlyList<(string Path, TLayer Layer)> Layers => _layers;

    /// <inheritdoc />
    /// <remarks>True unless the method says otherwise: an adapter whose layers cannot fold it into the base weight sets it to
    /// false in its constructor, and the host then refuses merges with a clear message instead of calling <see cref="Merge"/>.</remarks>
    public bool CanMerge { get; protected init; } = true;

    /// <inheritdoc />
    /// <remarks>True when every layer holds this adapter merged.</remarks>
    public bool IsMerged => _layers.Count > 0 && _layers.All(l => l.Layer.IsMerged(Name));

    /// <inheritdoc />
    public abstract IEnumerable<(string Key, Parameter Parameter)> NamedParameters();

    /// <inheritdoc />
    public abstract IReadOnlyDictionary<string, Tensor> GetState();

    /// <inheritdoc />
    public abstract void LoadState(IReadOnlyDictionary<string, Tensor> state);

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException"><see cref="CanMerge"/> is false.</exception>
    public void Merge()
    {
        if (!CanMerge) throw new InvalidOperationException($"adapter '{Name}' cannot be merged into the base weights");
        foreach (var (_, layer) in _layers) layer.Merge(Name);
    }

    /// <inheritdoc />
    public void Unmerge()
    {
        foreach (var (_, layer) in _layers) layer.Unmerge(Name);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Runs once: <see cref="OnRemoving(bool)"/>, then each layer drops the adapter (a layer left empty, and still in
    /// place, is replaced by the module it wraps).
    /// </remarks>
    public void Remove(bool keepMerged = false)
    {
        if (IsRemoved) return;
        IsRemoved = true;
        OnRemoving(keepMerged);
        foreach (var (path, layer) in _layers)
        {
            layer.RemoveAdapter(Name, keepMerged);
            if (layer.AdapterNames.Count == 0 && ReferenceEquals(Surface.GetModule(path), layer)) Surface.ReplaceModule(path, layer.BaseLayer);
        }
        _layers.Clear();
    }

    /// <summary>Called by <see cref="Remove"/> before the layers drop the adapter: release hooks and helpers here.</summary>
    protected virtual void OnRemoving() { }

    /// <summary>
    /// <see cref="OnRemoving()"/> for an adapter that also holds modules outside its layers and must know whether the
    /// removal keeps merged weights (LoRA's modules_to_save copies replace their originals then); calls
    /// <see cref="OnRemoving()"/> unless overridden.
    /// </summary>
    /// <param name="keepMerged">The <see cref="Remove"/> argument: true when the base weights keep what is merged.</param>
    protected virtual void OnRemoving(bool keepMerged) => OnRemoving();
}
