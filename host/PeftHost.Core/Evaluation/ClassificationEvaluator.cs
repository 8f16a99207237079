using PeftHost.Core.Data;
using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Evaluation;

/// <summary>How candidate label words are compared.</summary>
public enum LabelScoring
{
    /// <summary>Summed log-probability of the word's tokens (lm-evaluation-harness "acc").</summary>
    Sum,
    /// <summary>Mean log-probability per token (length-normalised), for label words of unequal lengths.</summary>
    Mean,
}

/// <summary>One classified item.</summary>
/// <param name="Example">The item.</param>
/// <param name="Predicted">The label with the best score.</param>
/// <param name="Scores">Each label's score, in the evaluator's label order.</param>
public sealed record ClassificationPrediction(ClassificationExample Example, string Predicted, IReadOnlyList<double> Scores);

/// <summary>The outcome of a classification evaluation.</summary>
/// <param name="Matrix">Gold × predicted counts.</param>
/// <param name="Predictions">Per-item predictions, in input order.</param>
/// <param name="Metrics">Accuracy, macro-F1, per-class and positive-class precision/recall/F1.</param>
/// <param name="GoldLoss">The mean next-token loss of the gold label words (what training minimises), from the same pass.</param>
public sealed record ClassificationReport(ConfusionMatrix Matrix, IReadOnlyList<ClassificationPrediction> Predictions,
    IReadOnlyDictionary<string, double> Metrics, PerplexityResult GoldLoss);

/// <summary>
/// Classification as generation, scored by likelihood: for every item and every candidate label,
/// the log-probabilities of the label word's tokens after the prompt — exactly the positions
/// training supervises — are added up; the prediction is the best-scoring label. Unlike greedy
/// generation, every item gets one valid label (no unparseable or off-vocabulary answers), and the
/// scores double as a confidence. The prompt, shared by all labels, runs through the model once
/// per item into a KV cache; each label word then costs only its own few tokens. Items are batched
/// by prompt length (<c>BatchSize</c> items per pass), so little of a batch is padding.
/// </summary>
public sealed class ClassificationEvaluator(
    IReadOnlyList<ClassificationExample> examples,
    ClassificationShape shape,
    ITokenEncoder tokenizer,
    IReadOnlyList<string> labels,
    string? positiveLabel = null) : IEvaluator
{
    /// <summary>Sum (default) or per-token mean of the word's log-probabilities.</summary>
    public LabelScoring Scoring { get; init; } = LabelScoring.Sum;

    /// <summary>Items per forward pass.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Prefix of the metric names.</summary>
    public string MetricPrefix { get; init; } = "eval_";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Evaluate(CausalLanguageModel model, CancellationToken cancellation = default) =>
        Run(model, cancellation).Metrics;

    /// <summary>Classifies every item and returns the confusion matrix, predictions and metrics.</summary>
    public ClassificationReport Run(CausalLanguageModel model, CancellationToken cancellation = default)
    {
        if (labels.Count < 2) throw new ArgumentException("classification needs at least two labels");
        var candidates = examples
            .Select(example => labels.Select(label => Truncate(shape.Tokenize(example with { Label = label }, tokenizer), model.Config.MaxPositionEmbeddings)).ToArray())
            .ToArray();

        var (sums, counts) = Score(model, candidates, cancellation);
        var matrix = new ConfusionMatrix(labels);
        var predictions = new List<ClassificationPrediction>(examples.Count);
        double goldSum = 0;
        long goldTokens = 0;
        for (int i = 0; i < examples.Count; i++)
        {
            var row = Enumerable.Range(0, labels.Count)
                .Select(j => Scoring == LabelScoring.Sum ? sums[i, j] : sums[i, j] / Math.Max(1, counts[i, j])).ToArray();
            int best = Array.IndexOf(row, row.Max());
            matrix.Add(examples[i].Label, labels[best]);
            predictions.Add(new ClassificationPrediction(examples[i], labels[best], row));
            int gold = IndexOfLabel(examples[i].Label);
            goldSum -= sums[i, gold];
            goldTokens += counts[i, gold];
        }
        var loss = new PerplexityResult(goldTokens == 0 ? double.NaN : goldSum / goldTokens, goldTokens);
        return new ClassificationReport(matrix, predictions, matrix.ToMetrics(MetricPrefix, positiveLabel), loss);
    }

    private int IndexOfLabel(string label)
    {
        for (int j = 0; j < labels.Count; j++) if (labels[j] == label) return j;
        throw new ArgumentException($"label '{label}' is not one of {string.Join(", ", labels)}");
    }

    /// <summary>Summed log-probability [item, label] of each label word's supervised tokens, and how many tokens that is.</summary>
    private (double[,] Sums, int[,] Counts) Score(CausalLanguageModel model, TokenizedExample[][] candidates, CancellationToken cancellation)
    {
        var sums = new double[candidates.Length, labels.Count];
        var counts = new int[candidates.Length, labels.Count];
        var shared = candidates.Select(SharedPromptLength).ToArray();
        // Similar prompt lengths share a batch: less padding, and often none (SDPA's causal fast path).
        var order = Enumerable.Range(0, candidates.Length).OrderBy(i => shared[i]).ToArray();
        int padId = tokenizer.PaddingId();
        using var ignoreIndex = TokenizedExample.IgnoreIndex.ToScalar();
        using var zero = 0.ToScalar();
        using var inference = inference_mode();
        for (int start = 0; start < order.Length; start += BatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var rows = order.AsSpan(start, Math.Min(BatchSize, order.Length - start)).ToArray();
            var prompts = rows.Select(i => (IReadOnlyList<int>)candidates[i][0].InputIds[..shared[i]]).ToList();
            int longestPrompt = prompts.Max(p => p.Count);
            int longestWord = rows.Max(i => candidates[i].Max(c => c.Length - shared[i]));
            var (promptIds, promptMask) = Generation.TextGenerator.LeftPad(prompts, longestPrompt, model.Device);
            bool promptPadded = prompts.Any(p => p.Count != longestPrompt);
            using var cache = KvCache.For(model, rows.Length, longestPrompt + longestWord);
            // The distribution after the prompt predicts every label's first word token.
            var afterPrompt = F.log_softmax(model.Forward(promptIds, promptPadded ? promptMask : null, cache, lastPositionOnly: true).to(ScalarType.Float32), -1);
            int promptCacheLength = cache.Length;
            for (int j = 0; j < labels.Count; j++)
            {
                var words = rows.Select(i => candidates[i][j] is var c ? (Ids: c.InputIds[shared[i]..], Labels: c.Labels[shared[i]..]) : default).ToArray();
                var logProbs = afterPrompt;
                int fed = words.Max(w => w.Ids.Length) - 1; // the last word token is only predicted, never fed
                if (fed > 0)
                {
                    var (wordIds, wordMask) = RightPad(words.Select(w => w.Ids[..^1]).ToArray(), fed, padId, model.Device);
                    var logits = model.Forward(wordIds, cat([promptMask, wordMask], 1), cache);
                    logProbs = cat([afterPrompt, F.log_softmax(logits.to(ScalarType.Float32), -1)], 1);
                    cache.Crop(promptCacheLength);
                }
                var (targets, _) = RightPad(words.Select(w => w.Labels).ToArray(), fed + 1, TokenizedExample.IgnoreIndex, model.Device);
                var valid = targets != ignoreIndex;
                var picked = logProbs.gather(-1, targets.clamp_min(zero).unsqueeze(-1)).squeeze(-1);
                var rowSums = picked.where(valid, zeros_like(picked)).sum(-1).to(ScalarType.Float64).cpu().data<double>().ToArray();
                var rowCounts = valid.sum(-1).cpu().data<long>().ToArray();
                for (int r = 0; r < rows.Length; r++)
                {
                    sums[rows[r], j] = rowSums[r];
                    counts[rows[r], j] = (int)rowCounts[r];
                }
            }
        }
        return (sums, counts);
    }

    /// <summary>
    /// How many leading tokens an item's candidates share before the first supervised one: the
    /// prompt, run once for all labels (at least one token: the prediction of the first word token needs a position).
    /// </summary>
    private static int SharedPromptLength(TokenizedExample[] candidates)
    {
        int length = candidates.Min(FirstScoredPosition);
        var reference = candidates[0].InputIds;
        foreach (var c in candidates)
        {
            int same = 0;
            while (same < length && same < c.Length && c.InputIds[same] == reference[same]) same++;
            length = same;
        }
        if (length == 0) throw new ArgumentException("classification needs a prompt of at least one token (or BOS) before the label word");
        return length;
    }

    /// <summary>The first position whose label is scored (position 0 never is: nothing precedes it), or the length when none is.</summary>
    private static int FirstScoredPosition(TokenizedExample e)
    {
        int first = Array.FindIndex(e.Labels, 1, l => l != TokenizedExample.IgnoreIndex);
        return first < 0 ? e.Length : first;
    }

    /// <summary>Rows padded on the right to <paramref name="length"/> with <paramref name="fill"/>, and the mask of real positions.</summary>
    private static (Tensor Values, Tensor Mask) RightPad(int[][] rows, int length, int fill, Device device)
    {
        var values = new long[rows.Length * length];
        var mask = new long[rows.Length * length];
        for (int r = 0; r < rows.Length; r++)
            for (int t = 0; t < length; t++)
            {
                bool real = t < rows[r].Length;
                values[r * length + t] = real ? rows[r][t] : fill;
                mask[r * length + t] = real ? 1 : 0;
            }
        return (tensor(values, [rows.Length, length]).to(device), tensor(mask, [rows.Length, length]).to(device));
    }

    private static TokenizedExample Truncate(TokenizedExample e, int context)
    {
        if (e.Length <= context) return e;
        // Keep the end: the label word and the prompt right before it.
        return new TokenizedExample(e.InputIds[^context..], e.Labels[^context..]);
    }
}
