using PeftHost.Sdk;
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
    private const int ExpAvg = 0, ExpAvgSq = 1;
    private readonly OptimizerSlots _slots = new(["exp_avg", "exp_avg_sq"]);

    /// <summary>Creates the optimizer over <paramref name="groups"/>.</summary>
    public AdamWOptimizer(IEnumerable<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        _slots.Bind(groups);
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
    public long StateBytes => _slots.StateBytes;

    /// <summary>The groups, in order.</summary>
    public IReadOnlyList<ParameterGroup> Groups => _slots.Groups;

    /// <summary>The optimized tensors' names, in order.</summary>
    public IReadOnlyList<string> Names => _slots.Names;

    /// <summary>
    /// Takes one step with learning rate <paramref name="learningRate"/> (times each group's scale).
    /// <paramref name="gradients"/> holds each tensor's gradient by name; tensors without one are skipped.
    /// </summary>
    public void Step(double learningRate, IReadOnlyDictionary<string, Tensor> gradients)
    {
        using var noGrad = no_grad();
        // The step's constants, held once for every tensor (TorchSharp would make an unheld Scalar per call).
        using var beta1 = Beta1.ToScalar();
        using var oneMinusBeta1 = (1 - Beta1).ToScalar();
        using var beta2 = Beta2.ToScalar();
        using var oneMinusBeta2 = (1 - Beta2).ToScalar();
        using var epsilon = Epsilon.ToScalar();
        foreach (var slot in _slots.All)
        {
            if (!gradients.TryGetValue(slot.Tensor.Name, out var grad)) continue;
            var value = slot.Tensor.Value;
            var expAvg = slot[ExpAvg] ??= zeros_like(value).DetachFromDisposeScope();
            var expAvgSq = slot[ExpAvgSq] ??= zeros_like(value).DetachFromDisposeScope();
            slot.Steps++;
            double lr = learningRate * slot.Group.LearningRateScale;
            double biasCorrection1 = 1 - Math.Pow(Beta1, slot.Steps);
            double biasCorrection2 = 1 - Math.Pow(Beta2, slot.Steps);

            using var scope = NewDisposeScope();
            if (slot.Group.WeightDecay != 0)
            {
                using var decay = (1 - lr * slot.Group.WeightDecay).ToScalar();
                value.mul_(decay);
            }
            using var stepSize = (-lr / biasCorrection1).ToScalar();
            expAvg.mul_(beta1).add_(grad, oneMinusBeta1);
            expAvgSq.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
            var denominator = expAvgSq.sqrt().DividedBy(Math.Sqrt(biasCorrection2)).add_(epsilon, TensorArithmetic.One);
            value.addcdiv_(expAvg, denominator, stepSize);
        }
    }

    /// <summary>The state to save: <c>{name}.exp_avg</c>, <c>{name}.exp_avg_sq</c> (tensors owned by the optimizer) and per-name step counts.</summary>
    public (IReadOnlyList<KeyValuePair<string, Tensor>> Tensors, IReadOnlyDictionary<string, long> Steps) State() => _slots.State();

    /// <summary>
    /// Restores saved state: <paramref name="read"/> returns a saved tensor by key (or null), and
    /// <paramref name="steps"/> the step counts. Every tensor must have state of the right shape.
    /// </summary>
    public void LoadState(Func<string, Tensor?> read, IReadOnlyDictionary<string, long> steps) => _slots.LoadState(steps, slot =>
    {
        slot[ExpAvg] = Load(read, slot.Key(ExpAvg), slot.Tensor.Value);
        slot[ExpAvgSq] = Load(read, slot.Key(ExpAvgSq), slot.Tensor.Value);
    });

    /// <summary>
    /// Rebinds to new tensors (after adapters were re-created): state is kept for names whose
    /// shape is unchanged, started afresh for new or reshaped ones, dropped for names now gone.
    /// </summary>
    public void Rebind(IEnumerable<ParameterGroup> groups) => _slots.Rebind(groups);

    private static Tensor Load(Func<string, Tensor?> read, string key, Tensor like)
    {
        var saved = read(key) ?? throw new InvalidDataException($"optimizer state has no tensor '{key}'");
        if (!saved.shape.SequenceEqual(like.shape))
            throw new InvalidDataException($"optimizer state '{key}' has shape [{string.Join(", ", saved.shape)}], the parameter [{string.Join(", ", like.shape)}]");
        return saved.to(like.dtype, like.device).DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();
}
