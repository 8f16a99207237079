using PeftHost.Core.Data;
using PeftHost.Core.Models;
using static TorchSharp.torch;

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
public sealed record ClassificationReport(ConfusionMatrix Matrix, IReadOnlyList<ClassificationPrediction> Predictions, IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// Classification as generation, scored by likelihood: for every item and every candidate label,
/// the prompt followed by that label's word is run through the model and the log-probabilities of
/// the word's tokens — exactly the positions training supervises — are added up; the prediction is
/// the best-scoring label. Unlike greedy generation, every item gets one valid label (no
/// unparseable or off-vocabulary answers), and the scores double as a confidence. All
/// (item, label) sequences are batched together; one forward pass scores <c>BatchSize</c> of them.
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

    /// <summary>Sequences per forward pass.</summary>
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
        var candidates = new List<TokenizedExample>(examples.Count * labels.Count);
        foreach (var example in examples)
            foreach (var label in labels)
                candidates.Add(Truncate(shape.Tokenize(example with { Label = label }, tokenizer), model.Config.MaxPositionEmbeddings));

        var scores = Score(model, candidates, cancellation);
        var matrix = new ConfusionMatrix(labels);
        var predictions = new List<ClassificationPrediction>(examples.Count);
        for (int i = 0; i < examples.Count; i++)
        {
            var row = scores.Skip(i * labels.Count).Take(labels.Count).ToArray();
            int best = Array.IndexOf(row, row.Max());
            matrix.Add(examples[i].Label, labels[best]);
            predictions.Add(new ClassificationPrediction(examples[i], labels[best], row));
        }
        return new ClassificationReport(matrix, predictions, matrix.ToMetrics(MetricPrefix, positiveLabel));
    }

    private double[] Score(CausalLanguageModel model, List<TokenizedExample> candidates, CancellationToken cancellation)
    {
        var collator = new BatchCollator(tokenizer.PaddingId(), model.Device);
        var scores = new double[candidates.Count];
        using var inference = inference_mode();
        for (int start = 0; start < candidates.Count; start += BatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var chunk = candidates.GetRange(start, Math.Min(BatchSize, candidates.Count - start));
            using var batch = collator.Collate(chunk);
            var logits = model.Forward(batch.InputIds, batch.ModelMask);
            var sums = TokenLoss.RowLogLikelihood(logits, batch.Labels).to(ScalarType.Float64).cpu().data<double>().ToArray();
            for (int r = 0; r < chunk.Count; r++)
                scores[start + r] = Scoring == LabelScoring.Sum ? sums[r] : sums[r] / Math.Max(1, chunk[r].PredictedTokens);
        }
        return scores;
    }

    private static TokenizedExample Truncate(TokenizedExample e, int context)
    {
        if (e.Length <= context) return e;
        // Keep the end: the label word and the prompt right before it.
        return new TokenizedExample(e.InputIds[^context..], e.Labels[^context..]);
    }
}
