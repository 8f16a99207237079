using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Models;

/// <summary>Next-token cross-entropy: position t's logits predict label t+1; label −100 is ignored.</summary>
public static class LanguageModelLoss
{
    /// <summary>The label value that contributes no loss (padding, masked prompt tokens).</summary>
    public const long IgnoreIndex = -100;

    /// <summary>Mean negative log-likelihood over the non-ignored shifted labels (a scalar, fp32).</summary>
    public static Tensor Compute(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        return F.cross_entropy(FlatLogits(logits), NextTokenLabels(labels), ignore_index: IgnoreIndex).MoveToOuterDisposeScope();
    }

    /// <summary>Summed NLL over the non-ignored shifted labels (a float32 scalar with gradient): the numerator of a token-weighted mean.</summary>
    public static Tensor Sum(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        return F.cross_entropy(FlatLogits(logits), NextTokenLabels(labels), ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum)
            .MoveToOuterDisposeScope();
    }

    /// <summary>Summed NLL and the count of predicted tokens, for exact means across batches.</summary>
    public static (double Sum, long Count) SumAndCount(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var targets = NextTokenLabels(labels);
        var sum = F.cross_entropy(FlatLogits(logits), targets, ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum);
        using var ignoreIndex = IgnoreIndex.ToScalar();
        long count = (targets != ignoreIndex).sum().item<long>();
        return (sum.item<float>(), count);
    }

    /// <summary>
    /// The labels moved one position left, the last position of every row ignored: position t
    /// is scored against label t+1. Shifting the labels rather than slicing the logits keeps the
    /// [batch·seq, vocab] logits a view, not a copy (the largest activation of a training step).
    /// </summary>
    internal static Tensor NextTokenLabels(Tensor labels) =>
        F.pad(labels[.., 1..], [0, 1], value: IgnoreIndex).reshape(-1);

    private static Tensor FlatLogits(Tensor logits)
    {
        var flat = logits.reshape(-1, logits.shape[^1]);
        return flat.dtype == ScalarType.Float32 ? flat : flat.to(ScalarType.Float32);
    }
}
