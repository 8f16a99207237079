using static TorchSharp.torch;

namespace PeftHost.Core.Training.Optimization;

/// <summary>
/// One optimized tensor's state: its group, its step count and the state tensors it owns, one per part name
/// (<c>exp_avg</c>, <c>state1</c>…). Saved as <c>{tensor name}.{part}</c>.
/// </summary>
internal sealed class OptimizerSlot(OptimizedTensor tensor, ParameterGroup group, IReadOnlyList<string> parts)
{
    private readonly Tensor?[] _state = new Tensor?[parts.Count];

    public OptimizedTensor Tensor { get; } = tensor;

    public ParameterGroup Group { get; } = group;

    /// <summary>The tensor's shape when bound (read once: after a reload the old tensor may be gone).</summary>
    public long[] Shape { get; } = tensor.Value.shape;

    public long Steps { get; set; }

    /// <summary>State part <paramref name="part"/> (an index into the optimizer's part names); setting it disposes the one it replaces.</summary>
    public Tensor? this[int part]
    {
        get => _state[part];
        set
        {
            if (!ReferenceEquals(_state[part], value)) _state[part]?.Dispose();
            _state[part] = value;
        }
    }

    /// <summary>The saved name of state part <paramref name="part"/>: <c>{tensor name}.{part name}</c>.</summary>
    public string Key(int part) => $"{Tensor.Name}.{parts[part]}";

    /// <summary>The state tensors held, under their saved names, in part order.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Named()
    {
        for (int i = 0; i < _state.Length; i++)
            if (_state[i] is { } t) yield return new(Key(i), t);
    }

    public void DisposeState()
    {
        for (int i = 0; i < _state.Length; i++) this[i] = null;
    }

    /// <summary>Takes copies of <paramref name="previous"/>'s state on this tensor's device.</summary>
    public void TakeStateFrom(OptimizerSlot previous)
    {
        var device = Tensor.Value.device;
        for (int i = 0; i < _state.Length; i++)
            this[i] = previous._state[i]?.to(device).DetachFromDisposeScope();
        Steps = previous.Steps;
    }
}

/// <summary>
/// The bookkeeping every optimizer here shares: one <see cref="OptimizerSlot"/> per tensor of its groups, keyed by
/// parameter name, saved and restored by name, and carried over when a plugin reload rebinds the parameters.
/// The optimizer itself only says what its state parts are, how to step, and how to check a restored part.
/// </summary>
internal sealed class OptimizerSlots(IReadOnlyList<string> parts) : IDisposable
{
    private List<OptimizerSlot> _slots = [];

    /// <summary>The slots, in group order.</summary>
    public IReadOnlyList<OptimizerSlot> All => _slots;

    /// <summary>The groups, in order.</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; private set; } = [];

    /// <summary>The optimized tensors' names, in order.</summary>
    public IReadOnlyList<string> Names => _slots.Select(s => s.Tensor.Name).ToArray();

    /// <summary>Bytes of state held now.</summary>
    public long StateBytes => _slots.SelectMany(s => s.Named()).Sum(t => t.Value.NumberOfElements * t.Value.ElementSize);

    /// <summary>Binds to <paramref name="groups"/> with no state; a name given twice is an error.</summary>
    public void Bind(IEnumerable<ParameterGroup> groups)
    {
        Groups = groups.ToArray();
        _slots = Groups.SelectMany(g => g.Tensors.Select(t => new OptimizerSlot(t, g, parts))).ToList();
        var duplicate = _slots.GroupBy(s => s.Tensor.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"parameter '{duplicate.Key}' appears twice in the optimizer's groups");
    }

    /// <summary>The state to save (tensors owned by the slots) and per-name step counts.</summary>
    public (IReadOnlyList<KeyValuePair<string, Tensor>> Tensors, IReadOnlyDictionary<string, long> Steps) State() =>
        (_slots.SelectMany(s => s.Named()).ToList(), _slots.ToDictionary(s => s.Tensor.Name, s => s.Steps));

    /// <summary>
    /// Restores saved state: every tensor must have a step count in <paramref name="steps"/>; a slot that has stepped
    /// gets its parts from <paramref name="load"/>.
    /// </summary>
    public void LoadState(IReadOnlyDictionary<string, long> steps, Action<OptimizerSlot> load)
    {
        foreach (var slot in _slots)
        {
            if (!steps.TryGetValue(slot.Tensor.Name, out long count))
                throw new InvalidDataException($"optimizer state has no entry for '{slot.Tensor.Name}'");
            slot.DisposeState();
            slot.Steps = count;
            if (count > 0) load(slot);
        }
    }

    /// <summary>
    /// Rebinds to new tensors (after adapters were re-created): state is kept for names whose shape is unchanged,
    /// started afresh for new or reshaped ones, dropped for names now gone.
    /// </summary>
    public void Rebind(IEnumerable<ParameterGroup> groups)
    {
        var old = _slots.ToDictionary(s => s.Tensor.Name);
        Bind(groups);
        foreach (var slot in _slots)
        {
            if (!old.Remove(slot.Tensor.Name, out var previous)) continue;
            if (previous.Shape.SequenceEqual(slot.Shape)) slot.TakeStateFrom(previous);
            previous.DisposeState(); // the copies hold their own references to the storage
        }
        foreach (var gone in old.Values) gone.DisposeState();
    }

    public void Dispose()
    {
        foreach (var slot in _slots) slot.DisposeState();
    }
}
