using System.Globalization;

namespace PeftHost.Core.Evaluation;

/// <summary>Precision, recall and F1 of one class.</summary>
/// <param name="Precision">TP / (TP + FP); 0 when nothing was predicted as the class.</param>
/// <param name="Recall">TP / (TP + FN); 0 when the class never occurs.</param>
/// <param name="F1">2PR / (P + R); 0 when both are 0.</param>
/// <param name="Support">How often the class is the gold label.</param>
public readonly record struct ClassMetrics(double Precision, double Recall, double F1, long Support);

/// <summary>Counts of (gold, predicted) label pairs, and the metrics derived from them.</summary>
public sealed class ConfusionMatrix
{
    private readonly Dictionary<string, int> _index;
    private readonly long[,] _counts;

    /// <summary>A matrix over <paramref name="labels"/> (in this order).</summary>
    public ConfusionMatrix(IReadOnlyList<string> labels)
    {
        if (labels.Count == 0) throw new ArgumentException("a confusion matrix needs at least one label");
        Labels = labels.ToArray();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++)
            if (!_index.TryAdd(labels[i], i)) throw new ArgumentException($"label '{labels[i]}' is listed twice");
        _counts = new long[labels.Count, labels.Count];
    }

    /// <summary>The labels, in order.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Items counted.</summary>
    public long Total { get; private set; }

    /// <summary>How many items of gold label <paramref name="gold"/> were predicted as <paramref name="predicted"/>.</summary>
    public long this[string gold, string predicted] => _counts[Index(gold), Index(predicted)];

    /// <summary>Counts one item.</summary>
    public void Add(string gold, string predicted, long count = 1)
    {
        _counts[Index(gold), Index(predicted)] += count;
        Total += count;
    }

    /// <summary>Correct / total (0 when empty).</summary>
    public double Accuracy
    {
        get
        {
            long correct = 0;
            for (int i = 0; i < Labels.Count; i++) correct += _counts[i, i];
            return Total == 0 ? 0 : (double)correct / Total;
        }
    }

    /// <summary>One class's precision, recall and F1 (one-vs-rest).</summary>
    public ClassMetrics For(string label)
    {
        int c = Index(label);
        long tp = _counts[c, c], predicted = 0, actual = 0;
        for (int i = 0; i < Labels.Count; i++)
        {
            predicted += _counts[i, c];
            actual += _counts[c, i];
        }
        double precision = predicted == 0 ? 0 : (double)tp / predicted;
        double recall = actual == 0 ? 0 : (double)tp / actual;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new ClassMetrics(precision, recall, f1, actual);
    }

    /// <summary>The unweighted mean of the classes' F1.</summary>
    public double MacroF1 => Labels.Average(l => For(l).F1);

    /// <summary>The unweighted mean of the classes' precision.</summary>
    public double MacroPrecision => Labels.Average(l => For(l).Precision);

    /// <summary>The unweighted mean of the classes' recall.</summary>
    public double MacroRecall => Labels.Average(l => For(l).Recall);

    /// <summary>
    /// Metrics by name: <c>{prefix}accuracy</c>, <c>{prefix}macro_f1</c>, and per class
    /// <c>{prefix}{label}_precision/_recall/_f1</c>; with <paramref name="positiveLabel"/> also
    /// <c>{prefix}precision</c>, <c>{prefix}recall</c>, <c>{prefix}f1</c> of that class.
    /// </summary>
    public IReadOnlyDictionary<string, double> ToMetrics(string prefix = "eval_", string? positiveLabel = null)
    {
        var metrics = new Dictionary<string, double>
        {
            [prefix + "accuracy"] = Accuracy,
            [prefix + "macro_f1"] = MacroF1,
        };
        foreach (var label in Labels)
        {
            var m = For(label);
            string name = prefix + Sanitize(label);
            metrics[name + "_precision"] = m.Precision;
            metrics[name + "_recall"] = m.Recall;
            metrics[name + "_f1"] = m.F1;
        }
        if (positiveLabel is not null)
        {
            var m = For(positiveLabel);
            metrics[prefix + "precision"] = m.Precision;
            metrics[prefix + "recall"] = m.Recall;
            metrics[prefix + "f1"] = m.F1;
        }
        return metrics;
    }

    /// <summary>The matrix as text: rows are gold labels, columns predictions.</summary>
    public override string ToString()
    {
        int width = Math.Max(8, Labels.Max(l => l.Length) + 2);
        var lines = new List<string> { "gold \\ predicted".PadRight(width) + string.Concat(Labels.Select(l => l.PadLeft(width))) };
        foreach (var gold in Labels)
            lines.Add(gold.PadRight(width) + string.Concat(Labels.Select(p => this[gold, p].ToString(CultureInfo.InvariantCulture).PadLeft(width))));
        return string.Join("\n", lines);
    }

    private int Index(string label) => _index.TryGetValue(label, out int i) ? i
        : throw new ArgumentException($"unknown label '{label}' (labels: {string.Join(", ", Labels)})");

    private static string Sanitize(string label) => string.Concat(label.Trim().ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : '_'));
}
