using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Evaluation;

/// <summary>How much a fine-tuned model still behaves like its base on reference text.</summary>
/// <param name="Loss">The tuned model's mean NLL on the reference tokens.</param>
/// <param name="BaseLoss">The base model's mean NLL on the same tokens.</param>
/// <param name="MeanKl">Mean over positions of KL(p_base ‖ p_tuned) of the next-token distributions (nats).</param>
/// <param name="Tokens">Positions scored.</param>
public sealed record RetentionResult(double Loss, double BaseLoss, double MeanKl, long Tokens)
{
    /// <summary>The tuned model's perplexity on the reference.</summary>
    public double Perplexity => Math.Exp(Loss);

    /// <summary>The base model's perplexity on the reference.</summary>
    public double BasePerplexity => Math.Exp(BaseLoss);
}

/// <summary>
/// Retention: perplexity of the tuned model on a reference text (e.g. Moby Dick) and the mean
/// KL divergence KL(p_base ‖ p_tuned) between the base model's and the tuned model's next-token
/// distributions at every position — 0 when the tuning changed nothing there. The reference is
/// cut into non-overlapping windows of the model's context (or <c>window</c>), the last one shorter, so every
/// token (up to <c>maxTokens</c>, when given) is scored; base logits come
/// from the same model with adapters disabled (a <c>Func&lt;IDisposable&gt;</c> whose scope disables
/// them) or from a second model.
/// </summary>
public static class Retention
{
    /// <summary>Scores <paramref name="model"/> against itself with adapters disabled by <paramref name="disableAdapters"/>.</summary>
    public static RetentionResult Evaluate(CausalLanguageModel model, IReadOnlyList<int> referenceIds, Func<IDisposable> disableAdapters,
        int window = 256, int? maxTokens = null, int batchSize = 4, CancellationToken cancellation = default) =>
        Run(model, referenceIds, ids =>
        {
            using (disableAdapters()) return model.Forward(ids);
        }, window, maxTokens, batchSize, cancellation);

    /// <summary>Scores <paramref name="tuned"/> against a separate <paramref name="baseModel"/>.</summary>
    public static RetentionResult Evaluate(CausalLanguageModel tuned, CausalLanguageModel baseModel, IReadOnlyList<int> referenceIds,
        int window = 256, int? maxTokens = null, int batchSize = 4, CancellationToken cancellation = default) =>
        Run(tuned, referenceIds, ids => baseModel.Forward(ids.to(baseModel.Device)).to(tuned.Device), window, maxTokens, batchSize, cancellation);

    private static RetentionResult Run(CausalLanguageModel model, IReadOnlyList<int> referenceIds, Func<Tensor, Tensor> baseLogits,
        int window, int? maxTokens, int batchSize, CancellationToken cancellation)
    {
        window = Math.Min(window, model.Config.MaxPositionEmbeddings);
        if (window < 2) throw new ArgumentOutOfRangeException(nameof(window), window, "must be at least 2");
        if (maxTokens is < 2) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "must be at least 2");
        int usable = Math.Min(referenceIds.Count, maxTokens ?? int.MaxValue);
        if (usable < 2) throw new ArgumentException($"the reference needs at least 2 tokens, it has {referenceIds.Count}");
        var all = referenceIds.Take(usable).Select(i => (long)i).ToArray();
        // Non-overlapping windows cover every token; the full ones run in batches of equal shape.
        var batches = TokenWindows.Strided(usable, window, stride: window)
            .Chunk(batchSize)
            .SelectMany(chunk => chunk.GroupBy(w => (w.Length, w.FirstScoredLogit)).Select(g => g.ToArray()));

        double nll = 0, baseNll = 0, kl = 0;
        long positions = 0;
        using var inference = inference_mode();
        foreach (var windows in batches)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var (length, first) = (windows[0].Length, windows[0].FirstScoredLogit);
            var ids = tensor(windows.SelectMany(w => all.AsSpan(w.Begin, w.Length).ToArray()).ToArray(), [windows.Length, length]).to(model.Device);
            var tuned = F.log_softmax(model.Forward(ids)[.., first..^1, ..].to(ScalarType.Float32), -1);
            var reference = F.log_softmax(baseLogits(ids)[.., first..^1, ..].to(ScalarType.Float32), -1);
            var targets = ids[.., (first + 1)..].unsqueeze(-1);
            nll -= tuned.gather(-1, targets).sum().item<float>();
            baseNll -= reference.gather(-1, targets).sum().item<float>();
            kl += (reference.exp() * (reference - tuned)).sum().item<float>();
            positions += windows.Sum(w => (long)w.Scored);
        }
        var tunedResult = PerplexityResult.FromSum(nll, positions, "retention");
        var baseResult = PerplexityResult.FromSum(baseNll, positions, "retention (base model)");
        return new RetentionResult(tunedResult.Loss, baseResult.Loss, kl / positions, positions);
    }
}

/// <summary>Retention as trainer metrics: <c>retention_perplexity</c> and <c>retention_kl</c>.</summary>
public sealed class RetentionEvaluator(IReadOnlyList<int> referenceIds, Func<IDisposable> disableAdapters, int window = 256, int? maxTokens = 2048) : IEvaluator
{
    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Evaluate(CausalLanguageModel model, CancellationToken cancellation = default)
    {
        var r = Retention.Evaluate(model, referenceIds, disableAdapters, window, maxTokens, cancellation: cancellation);
        return new Dictionary<string, double> { ["retention_perplexity"] = r.Perplexity, ["retention_kl"] = r.MeanKl };
    }
}
