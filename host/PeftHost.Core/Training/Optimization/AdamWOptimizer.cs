using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training.Optimization;

/// <summary>
/// AdamWOptimizer (Loshchilov &amp; Hutter) as PyTorch computes it, per tensor:
/// p ← p(1 − lr·wd); m ← β1·m + (1 − β1)g; v ← β2·v + (1 − β2)g²;
/// p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε), with t counted per tensor (a tensor
/// without a gradient skips the step). Gradients are passed in, so the tensors updated can be
/// float32 master copies of bf16 parameters. State is keyed by parameter name: it can be saved,
/// restored, and carried over when parameters are rebound after a plugin reload.
/// </summary>
public sealed class AdamWOptimizer : IOptimizer
{
    private sealed class Slot(OptimizedTensor tensor, ParameterGroup group)
    {
        public OptimizedTensor Tensor { get; set; } = tensor;
        public ParameterGroup Group { get; set; } = group;
        public Tensor? ExpAvg { get; set; }
        public Tensor? ExpAvgSq { get; set; }
        public long Steps { get; set; }

        public void DisposeState()
        {
            ExpAvg?.Dispose();
            ExpAvgSq?.Dispose();
            ExpAvg = ExpAvgSq = null;
        }
    }

    private List<Slot> _slots = [];

    /// <summary>Creates the optimizer over <paramref name="groups"/>.</summary>
    public AdamWOptimizer(IEnumerable<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        Bind(groups);
    }

    /// <inheritdoc />
    public string Kind => Optimizers.AdamW;

    /// <inheritdoc />
    public double Beta1 { get; }

    /// <inheritdoc />
    public double Beta2 { get; }

    /// <inheritdoc />
    public double Epsilon { get; }

    /// <inheritdoc />
    public long StateBytes => _slots.Sum(s => (s.ExpAvg?.NumberOfElements * s.ExpAvg?.ElementSize ?? 0) + (s.ExpAvgSq?.NumberOfElements * s.ExpAvgSq?.ElementSize ?? 0));

    /// <summary>The groups, in order.</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; private set; } = [];

    /// <summary>The optimized tensors' names, in order.</summary>
    public IReadOnlyList<string> Names => _slots.Select(s => s.Tensor.Name).ToArray();

    /// <summary>
    /// Takes one step with learning rate <paramref name="learningRate"/> (times each group's scale).
    /// <paramref name="gradients"/> holds each tensor's gradient by name; tensors without one are skipped.
    /// </summary>
    public void Step(double learningRate, IReadOnlyDictionary<string, Tensor> gradients)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < _slots.Count; i++)
        {
            if (!gradients.TryGetValue(_slots[i].Tensor.Name, out var grad)) continue;
            var slot = _slots[i];
            var value = slot.Tensor.Value;
            slot.ExpAvg ??= zeros_like(value).DetachFromDisposeScope();
            slot.ExpAvgSq ??= zeros_like(value).DetachFromDisposeScope();
            slot.Steps++;
            double lr = learningRate * slot.Group.LearningRateScale;
            double biasCorrection1 = 1 - Math.Pow(Beta1, slot.Steps);
            double biasCorrection2 = 1 - Math.Pow(Beta2, slot.Steps);

            using var scope = NewDisposeScope();
            if (slot.Group.WeightDecay != 0) value.mul_(1 - lr * slot.Group.WeightDecay);
            slot.ExpAvg.mul_(Beta1).add_(grad, 1 - Beta1);
            slot.ExpAvgSq.mul_(Beta2).addcmul_(grad, grad, 1 - Beta2);
            var denominator = (slot.ExpAvgSq.sqrt() / Math.Sqrt(biasCorrection2)).add_(Epsilon);
            value.addcdiv_(slot.ExpAvg, denominator, -lr / biasCorrection1);
        }
    }

    /// <summary>The state to save: <c>{name}.exp_avg</c>, <c>{name}.exp_avg_sq</c> (tensors owned by the optimizer) and per-name step counts.</summary>
    public (IReadOnlyList<KeyValuePair<string, Tensor>> Tensors, IReadOnlyDictionary<string, long> Steps) State()
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        var steps = new Dictionary<string, long>();
        foreach (var slot in _slots)
        {
            steps[slot.Tensor.Name] = slot.Steps;
            if (slot.ExpAvg is null || slot.ExpAvgSq is null) continue;
            tensors.Add(new(slot.Tensor.Name + ".exp_avg", slot.ExpAvg));
            tensors.Add(new(slot.Tensor.Name + ".exp_avg_sq", slot.ExpAvgSq));
        }
        return (tensors, steps);
    }

    /// <summary>
    /// Restores saved state: <paramref name="read"/> returns a saved tensor by key (or null), and
    /// <paramref name="steps"/> the step counts. Every tensor must have state of the right shape.
    /// </summary>
    public void LoadState(Func<string, Tensor?> read, IReadOnlyDictionary<string, long> steps)
    {
        foreach (var slot in _slots)
        {
            string name = slot.Tensor.Name;
            if (!steps.TryGetValue(name, out long count))
                throw new InvalidDataException($"optimizer state has no entry for '{name}'");
            slot.DisposeState();
            slot.Steps = count;
            if (count == 0) continue;
            slot.ExpAvg = Load(read, name + ".exp_avg", slot.Tensor.Value);
            slot.ExpAvgSq = Load(read, name + ".exp_avg_sq", slot.Tensor.Value);
        }
    }

    /// <summary>
    /// Rebinds to new tensors (after adapters were re-created): state is kept for names whose
    /// shape is unchanged, started afresh for new or reshaped ones, dropped for names now gone.
    /// </summary>
    public void Rebind(IEnumerable<ParameterGroup> groups)
    {
        var old = _slots.ToDictionary(s => s.Tensor.Name);
        Bind(groups);
        foreach (var slot in _slots)
        {
            if (!old.Remove(slot.Tensor.Name, out var previous)) continue;
            if (previous.ExpAvg is not null && previous.ExpAvg.shape.SequenceEqual(slot.Tensor.Value.shape))
            {
                slot.ExpAvg = previous.ExpAvg.to(slot.Tensor.Value.device).DetachFromDisposeScope();
                slot.ExpAvgSq = previous.ExpAvgSq!.to(slot.Tensor.Value.device).DetachFromDisposeScope();
                slot.Steps = previous.Steps;
            }
            previous.DisposeState(); // the copies above hold their own references to the storage
        }
        foreach (var gone in old.Values) gone.DisposeState();
    }

    private void Bind(IEnumerable<ParameterGroup> groups)
    {
        Groups = groups.ToArray();
        _slots = Groups.SelectMany(g => g.Tensors.Select(t => new Slot(t, g))).ToList();
        var duplicate = _slots.GroupBy(s => s.Tensor.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"parameter '{duplicate.Key}' appears twice in the optimizer's groups");
    }

    private static Tensor Load(Func<string, Tensor?> read, string key, Tensor like)
    {
        var saved = read(key) ?? throw new InvalidDataException($"optimizer state has no tensor '{key}'");
        if (!saved.shape.SequenceEqual(like.shape))
            throw new InvalidDataException($"optimizer state '{key}' has shape [{string.Join(", ", saved.shape)}], the parameter [{string.Join(", ", like.shape)}]");
        return saved.to(like.dtype, like.device).DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var slot in _slots) slot.DisposeState();
    }
}
