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

    /// <summary>
    /// The mean of <paramref name="sum"/> over <paramref name="count"/> tokens. A NaN or infinite loss is an error,
    /// not a number to report: it means the weights or an adapter hold non-finite values (a diverged run, a damaged file).
    /// </summary>
    public static PerplexityResult FromSum(double sum, long count, string what)
    {
        if (count == 0) throw new ArgumentException($"{what}: no tokens to score");
        if (!double.IsFinite(sum))
            throw new InvalidOperationException($"{what}: the loss is {(double.IsNaN(sum) ? "NaN" : "infinite")}: the model's weights or adapter hold non-finite values (a diverged run or a damaged file)");
        return new PerplexityResult(sum / count, count);
    }
}

/// <summary>Scores token sequences under a model.</summary>
public static class Perplexity
{
    /// <summary>
    /// Scores every token of <paramref name="ids"/> after the first, however long the text, with Hugging Face's
    /// strided sliding window: windows of at most the model's context start every <paramref name="stride"/> tokens
    /// (default: half the context), and each window scores only the tokens the previous one did not, so each is
    /// predicted once, with at least context − stride tokens before it (all of them near the start). A stride equal
    /// to the context gives non-overlapping windows, whose first tokens have no context and are not scored.
    /// </summary>
    public static PerplexityResult OfTokens(CausalLanguageModel model, IReadOnlyList<int> ids, int? stride = null, CancellationToken cancellation = default)
    {
        int context = model.Config.MaxPositionEmbeddings;
        int step = stride ?? Math.Max(1, context / 2);
        if (step < 1 || step > context)
            throw new ArgumentException($"stride must be between 1 and the model's context of {context} tokens, got {step}");
        if (ids.Count < 2) throw new ArgumentException($"need at least 2 tokens to score, got {ids.Count}");
        var all = ids.Select(i => (long)i).ToArray();
        using var inference = inference_mode();
        double sum = 0;
        long count = 0;
        int scoredUpTo = 1; // tokens before this index are scored already (token 0 never is: nothing predicts it)
        for (int begin = 0; ; begin += step)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            int end = Math.Min(begin + context, all.Length);
            var input = tensor(all.AsSpan(begin, end - begin).ToArray(), [1, end - begin]).to(model.Device);
            // Only this window's new tokens are labels; the ones before are context.
            int firstNew = Math.Max(scoredUpTo - begin, 0);
            var labels = input.clone();
            if (firstNew > 0) labels[.., ..firstNew].fill_(LanguageModelLoss.IgnoreIndex);
            sum += model.NextTokenLossSum(input, null, labels).item<float>();
            count += end - begin - Math.Max(firstNew, 1);
            scoredUpTo = end;
            if (end == all.Length) break;
        }
        return PerplexityResult.FromSum(sum, count, "perplexity");
    }
}
