using PeftHost.Core.Data;
using PeftHost.Core.Models;
using static TorchSharp.torch;

namespace PeftHost.Core.Evaluation;

/// <summary>Token-weighted mean loss (and perplexity) of a model over a tokenized dataset.</summary>
public static class DatasetLoss
{
    /// <summary>
    /// Scores every example of <paramref name="dataset"/> in batches of <paramref name="batchSize"/>:
    /// the loss is Σ NLL / Σ predicted tokens over the whole set (not a mean of batch means).
    /// Runs in inference mode; the caller chooses train or eval mode. <paramref name="progress"/>, when
    /// given, hears (batches done, batches in all) after each batch.
    /// </summary>
    public static PerplexityResult Evaluate(CausalLanguageModel model, TokenizedDataset dataset, int batchSize = 8,
        int padTokenId = 0, CancellationToken cancellation = default, Action<int, int>? progress = null)
    {
        if (dataset.Count == 0) throw new ArgumentException($"dataset '{dataset.Name}' has no examples");
        var collator = new BatchCollator(padTokenId, model.Device);
        using var inference = inference_mode();
        double sum = 0;
        long count = 0;
        int batches = (dataset.Count + batchSize - 1) / batchSize;
        for (int start = 0; start < dataset.Count; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var examples = Enumerable.Range(start, Math.Min(batchSize, dataset.Count - start)).Select(i => dataset[i]).ToArray();
            using var batch = collator.Collate(examples);
            var logits = model.Forward(batch.InputIds, batch.ModelMask);
            sum += LanguageModelLoss.Sum(logits, batch.Labels).item<float>();
            count += batch.PredictedTokens;
            progress?.Invoke(start / batchSize + 1, batches);
        }
        if (count == 0) throw new ArgumentException($"dataset '{dataset.Name}' has no supervised tokens");
        return PerplexityResult.FromSum(sum, count, $"dataset '{dataset.Name}'");
    }
}
