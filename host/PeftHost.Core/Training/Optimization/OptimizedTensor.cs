using static TorchSharp.torch;

namespace PeftHost.Core.Training.Optimization;

/// <summary>A tensor the optimizer updates in place, under the trainable parameter's name.</summary>
/// <param name="Name">The parameter's name (optimizer state is kept and saved under it).</param>
/// <param name="Value">The tensor updated: the parameter itself, or its float32 master copy.</param>
public readonly record struct OptimizedTensor(string Name, Tensor Value);

/// <summary>Tensors sharing weight decay and a learning-rate scale.</summary>
/// <param name="Name">"decay", "no_decay" or a caller's name.</param>
/// <param name="WeightDecay">Decoupled weight decay.</param>
/// <param name="Tensors">The members.</param>
/// <param name="LearningRateScale">Multiplies the scheduled learning rate for this group.</param>
public sealed record ParameterGroup(string Name, double WeightDecay, IReadOnlyList<OptimizedTensor> Tensors, double LearningRateScale = 1.0)
{
    /// <summary>
    /// The usual split: tensors of two or more dimensions (matrices, embeddings) get
    /// <paramref name="weightDecay"/>; one-dimensional ones (norm scales, biases) get none.
    /// Empty groups are left out.
    /// </summary>
    public static IReadOnlyList<ParameterGroup> DecayAndNoDecay(IEnumerable<OptimizedTensor> tensors, double weightDecay)
    {
        var all = tensors.ToList();
        var groups = new List<ParameterGroup>();
        var decay = all.Where(t => t.Value.dim() >= 2).ToArray();
        var noDecay = all.Where(t => t.Value.dim() < 2).ToArray();
        if (decay.Length > 0) groups.Add(new ParameterGroup("decay", weightDecay, decay));
        if (noDecay.Length > 0) groups.Add(new ParameterGroup("no_decay", 0.0, noDecay));
        return groups;
    }
}
