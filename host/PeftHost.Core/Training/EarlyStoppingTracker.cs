namespace PeftHost.Core.Training;

/// <summary>Tracks the best value of a validation metric and how many evaluations have passed without improving on it.</summary>
internal sealed class EarlyStoppingTracker(EarlyStoppingOptions options)
{
    public EarlyStoppingOptions Options => options;

    public double? Best { get; set; }

    public int? BestStep { get; set; }

    public int EvaluationsWithoutImprovement { get; set; }

    /// <summary>Records an evaluation; true when patience has run out.</summary>
    public bool Update(IReadOnlyDictionary<string, double> metrics, int step)
    {
        if (!metrics.TryGetValue(options.Metric, out double value))
            throw new InvalidOperationException($"early stopping watches '{options.Metric}', which the evaluation did not produce (it produced: {string.Join(", ", metrics.Keys)})");
        bool improved = Best is not double best
            || (options.GreaterIsBetter ? value > best + options.MinDelta : value < best - options.MinDelta);
        if (improved)
        {
            Best = value;
            BestStep = step;
            EvaluationsWithoutImprovement = 0;
            return false;
        }
        EvaluationsWithoutImprovement++;
        return EvaluationsWithoutImprovement >= options.Patience;
    }
}
