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
    /// Scores every token of <paramref name="ids"/> after the first, however long the text, in
    /// <see cref="TokenWindows.Strided"/> windows of <paramref name="window"/> tokens (default and at most: the
    /// model's context) every <paramref name="stride"/> tokens (default: half the window).
    /// </summary>
    public static PerplexityResult OfTokens(CausalLanguageModel model, IReadOnlyList<int> ids, int? stride = null,
        CancellationToken cancellation = default, int? window = null) =>
        OfStreams(model, [ids], stride, cancellation, window);

    /// <summary>
    /// <see cref="OfTokens"/> over several independent token streams (documents), summed: the loss is over
    /// every scored token of every stream. <c>progress</c> hears (windows done, windows in all) after each window.
    /// </summary>
    public static PerplexityResult OfStreams(CausalLanguageModel model, IEnumerable<IReadOnlyList<int>> streams, int? stride = null,
        CancellationToken cancellation = default, int? window = null, Action<int, int>? progress = null)
    {
        int context = model.Config.MaxPositionEmbeddings;
        int size = window ?? context;
        if (size < 2 || size > context)
            throw new ArgumentException($"the window must be between 2 and the model's context of {context} tokens, got {size}");
        int step = stride ?? Math.Max(1, size / 2);
        if (step < 1 || step > size)
            throw new ArgumentException($"stride must be between 1 and {(size == context ? "the model's context" : "the window")} of {size} tokens, got {step}");
        using var inference = inference_mode();
        double sum = 0;
        long count = 0;
        using var ignoreIndex = LanguageModelLoss.IgnoreIndex.ToScalar();
        var planned = streams.Select(ids => (Ids: ids.Select(i => (long)i).ToArray(), Windows: TokenWindows.Strided(ids.Count, size, step))).ToList();
        int total = planned.Sum(p => p.Windows.Count), done = 0;
        foreach (var (all, windows) in planned)
        {
            foreach (var w in windows)
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var input = tensor(all.AsSpan(w.Begin, w.Length).ToArray(), [1, w.Length]).to(model.Device);
                // Only this window's new tokens are labels; the ones before are context.
                var labels = input.clone();
                int contextOnly = w.ScoredFrom - w.Begin;
                if (contextOnly > 1) labels[.., ..contextOnly].fill_(ignoreIndex);
                sum += model.NextTokenLossSum(input, null, labels).item<float>();
                count += w.Scored;
                progress?.Invoke(++done, total);
            }
        }
        return PerplexityResult.FromSum(sum, count, "perplexity");
    }
}
