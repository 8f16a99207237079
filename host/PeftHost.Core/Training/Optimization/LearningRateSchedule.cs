namespace PeftHost.Core.Training.Optimization;

/// <summary>The learning-rate curve after warm-up.</summary>
public enum LearningRateScheduleKind
{
    /// <summary>Flat at the peak.</summary>
    Constant,
    /// <summary>Linear decay from the peak to 0 at the last step.</summary>
    Linear,
    /// <summary>Half a cosine from the peak to 0 at the last step.</summary>
    Cosine,
}

/// <summary>
/// The learning-rate multiplier for optimizer step s (0-based), as Hugging Face's schedulers
/// compute it: warm-up s/W for s &lt; W, then with p = (s − W)/max(1, T − W):
/// constant 1; linear max(0, (T − s)/max(1, T − W)); cosine max(0, ½(1 + cos πp)).
/// </summary>
/// <param name="Kind">The curve.</param>
/// <param name="TotalSteps">T, the run's optimizer steps.</param>
/// <param name="WarmupSteps">W.</param>
public sealed record LearningRateSchedule(LearningRateScheduleKind Kind, int TotalSteps, int WarmupSteps)
{
    /// <summary>Warm-up steps from a ratio of the total, rounded up (Hugging Face's rule).</summary>
    public static int WarmupFromRatio(double ratio, int totalSteps) => (int)Math.Ceiling(ratio * totalSteps);

    /// <summary>The multiplier in [0, 1] for step <paramref name="step"/>.</summary>
    public double Factor(int step)
    {
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        double span = Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            LearningRateScheduleKind.Constant => 1.0,
            LearningRateScheduleKind.Linear => Math.Max(0.0, (TotalSteps - step) / span),
            LearningRateScheduleKind.Cosine => Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * (step - WarmupSteps) / span))),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, null),
        };
    }

    /// <summary>The learning rate for <paramref name="step"/> with peak <paramref name="peak"/>.</summary>
    public double LearningRate(double peak, int step) => peak * Factor(step);
}
