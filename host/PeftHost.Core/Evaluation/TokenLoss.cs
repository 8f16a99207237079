using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Evaluation;

/// <summary>Summed next-token negative log-likelihood (the numerator of a token-weighted mean).</summary>
public static class TokenLoss
{
    /// <summary>Σ −log p(label t+1 | ≤ t) over labels that are not −100, as a float32 scalar with gradient.</summary>
    public static Tensor Sum(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[^1];
        var shiftedLogits = logits[.., ..^1, ..].reshape(-1, v).to(ScalarType.Float32);
        var shiftedLabels = labels[.., 1..].reshape(-1);
        return F.cross_entropy(shiftedLogits, shiftedLabels, ignore_index: LanguageModelLoss.IgnoreIndex, reduction: nn.Reduction.Sum)
            .MoveToOuterDisposeScope();
    }

    /// <summary>Per-row sums [rows] of the token log-probabilities of the supervised labels (0 for rows without any).</summary>
    public static Tensor RowLogLikelihood(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var logProbs = F.log_softmax(logits[.., ..^1, ..].to(ScalarType.Float32), -1);
        var targets = labels[.., 1..];
        var valid = targets != LanguageModelLoss.IgnoreIndex;
        var picked = logProbs.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1);
        return picked.where(valid, zeros_like(picked)).sum(-1).MoveToOuterDisposeScope();
    }
}
