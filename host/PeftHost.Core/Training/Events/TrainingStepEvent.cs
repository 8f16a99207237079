using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training;

/// <summary>Progress of a training run, published every <see cref="TrainingOptions.LogEvery"/> optimizer steps.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="TotalSteps">Optimizer steps the run will take.</param>
/// <param name="Epoch">Fractional epoch (1.5 = half-way through the second).</param>
/// <param name="Loss">Mean training loss over the steps since the last event.</param>
/// <param name="LearningRate">The learning rate of the last step.</param>
/// <param name="GradNorm">Global gradient norm of the last step, before clipping.</param>
/// <param name="TokensPerSecond">Non-padding tokens processed per second since the last event.</param>
/// <param name="Elapsed">Wall time since the run (or its resumption) started.</param>
/// <param name="Eta">Estimated time to the last step.</param>
public sealed record TrainingStepEvent(string RunId, int Step, int TotalSteps, double Epoch, double Loss, double LearningRate,
    double GradNorm, double TokensPerSecond, TimeSpan Elapsed, TimeSpan Eta) : ITrainingRunEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source { get; init; } = "trainer";
}
