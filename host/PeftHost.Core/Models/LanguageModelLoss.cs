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
        long v = logits.shape[^1];
        var shiftedLogits = logits[.., ..^1, ..].reshape(-1, v).to(ScalarType.Float32);
        var shiftedLabels = labels[.., 1..].reshape(-1);
        return F.cross_entropy(shiftedLogits, shiftedLabels, ignore_index: IgnoreIndex).MoveToOuterDisposeScope();
    }

    /// <summary>Summed NLL and the count of predicted tokens, for exact means across batches.</summary>
    public static (double Sum, long Count) SumAndCount(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[^1];
        var shiftedLabels = labels[.., 1..].reshape(-1);
        var sum = F.cross_entropy(logits[.., ..^1, ..].reshape(-1, v).to(ScalarType.Float32), shiftedLabels,
            ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum);
        long count = (shiftedLabels != IgnoreIndex).sum().item<long>();
        return (sum.item<float>(), count);
    }
}
