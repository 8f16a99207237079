using static TorchSharp.torch;

namespace PeftHost.Core.Training.Optimization;

/// <summary>
/// What the trainer needs of an optimizer: a step over named gradients, its state by name (to
/// checkpoint, restore, and carry over when a plugin reload rebinds the parameters), and how many
/// bytes that state takes. Implementations: <see cref="AdamWOptimizer"/> (float32 moments) and
/// <see cref="AdamW8bit"/> (bitsandbytes' blockwise 8-bit moments).
/// </summary>
public interface IOptimizer : IDisposable
{
    /// <summary>The name recipes use (<c>optimizer: "adamw"</c>), also stored in checkpoints so a resume cannot mix optimizers.</summary>
    string Kind { get; }

    /// <summary>β1.</summary>
    double Beta1 { get; }

    /// <summary>β2.</summary>
    double Beta2 { get; }

    /// <summary>ε.</summary>
    double Epsilon { get; }

    /// <summary>Bytes of optimizer state held now.</summary>
    long StateBytes { get; }

    /// <summary>One step at <paramref name="learningRate"/> (times each group's scale); tensors without a gradient in <paramref name="gradients"/> are skipped.</summary>
    void Step(double learningRate, IReadOnlyDictionary<string, Tensor> gradients);

    /// <summary>The state to save (tensors owned by the optimizer, keyed by parameter name and a suffix) and per-name step counts.</summary>
    (IReadOnlyList<KeyValuePair<string, Tensor>> Tensors, IReadOnlyDictionary<string, long> Steps) State();

    /// <summary>Restores saved state: <paramref name="read"/> returns a saved tensor by key (or null).</summary>
    void LoadState(Func<string, Tensor?> read, IReadOnlyDictionary<string, long> steps);

    /// <summary>Rebinds to new tensors: state is kept for names whose shape is unchanged, started afresh for the others.</summary>
    void Rebind(IEnumerable<ParameterGroup> groups);
}

/// <summary>The optimizers a training run can use.</summary>
public static class Optimizers
{
    /// <summary>AdamW with float32 moments (the default).</summary>
    public const string AdamW = "adamw";

    /// <summary>AdamW with blockwise 8-bit moments (bitsandbytes' <c>AdamW8bit</c>, <c>optim="adamw_bnb_8bit"</c> in Hugging Face's Trainer).</summary>
    public const string AdamW8bit = "adamw_8bit";

    /// <summary>Every name, for messages.</summary>
    public static IReadOnlyList<string> Names { get; } = [AdamW, AdamW8bit];

    /// <summary>The optimizer named <paramref name="kind"/> over <paramref name="groups"/>.</summary>
    public static IOptimizer Create(string kind, IEnumerable<ParameterGroup> groups, double beta1, double beta2, double epsilon) => kind switch
    {
        AdamW => new AdamWOptimizer(groups, beta1, beta2, epsilon),
        AdamW8bit => new Optimization.AdamW8bit(groups, beta1, beta2, epsilon),
        _ => throw new ArgumentException($"unknown optimizer '{kind}' (known: {string.Join(", ", Names)})"),
    };
}
