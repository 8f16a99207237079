using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Evaluation;

/// <summary>Mean next-token NLL and its exponential.</summary>
/// <param name="Loss">Mean negative log-likelihood per predicted token (nats).</param>
/// <param name="Tokens">Predicted tokens.</param>
public readonly record struct PerplexityResult(double Loss, long Tokens)
{
    /// <summary>exp(loss).</summary>
    public double Perplexity => Math.Exp(Loss);
}

/// <summary>Scores token sequences under a model.</summary>
public static class Perplexity
{
    /// <summary>
    /// Scores <paramref name="ids"/> (truncated to the model's context) in one forward pass:
    /// every token after the first is predicted from the ones before it.
    /// </summary>
    public static PerplexityResult OfTokens(CausalLanguageModel model, IReadOnlyList<int> ids)
    {
        int length = Math.Min(ids.Count, model.Config.MaxPositionEmbeddings);
        if (length < 2) throw new ArgumentException($"need at least 2 tokens to score, got {length}");
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var input = tensor(ids.Take(length).Select(i => (long)i).ToArray(), [1, length]).to(model.Device);
        var logits = model.Forward(input);
        var (sum, count) = LanguageModelLoss.SumAndCount(logits, input);
        return new PerplexityResult(sum / count, count);
    }
}
