using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training;

/// <summary>Validation metrics (eval_loss, eval_perplexity and any evaluator's metrics) at a step.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="Metrics">Metric name → value.</param>
public sealed record EvaluationEvent(string RunId, int Step, IReadOnlyDictionary<string, double> Metrics) : ITrainingRunEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source { get; init; } = "trainer";
}
