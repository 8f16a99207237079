using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Evaluation;

/// <summary>Per-row next-token log-likelihoods (scoring candidates, classification as generation).</summary>
public static class TokenLoss
{
    /// <summary>Per-row sums [rows] of the token log-probabilities of the supervised labels (0 for rows without any).</summary>
    public static Tensor RowLogLikelihood(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var logProbs = F.log_softmax(logits[.., ..^1, ..].to(ScalarType.Float32), -1);
        var targets = labels[.., 1..];
        using var ignoreIndex = LanguageModelLoss.IgnoreIndex.ToScalar();
        using var zero = 0.ToScalar();
        var valid = targets != ignoreIndex;
        var picked = logProbs.gather(-1, targets.clamp_min(zero).unsqueeze(-1)).squeeze(-1);
        return picked.where(valid, zeros_like(picked)).sum(-1).MoveToOuterDisposeScope();
    }
}
