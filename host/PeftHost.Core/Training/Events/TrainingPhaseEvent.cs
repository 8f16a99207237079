using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training;

/// <summary>What a training run is doing between two optimizer steps.</summary>
public enum TrainingPhase
{
    /// <summary>Taking optimizer steps.</summary>
    Training,

    /// <summary>Scoring the validation set (and the extra evaluators).</summary>
    Evaluating,

    /// <summary>Writing a checkpoint.</summary>
    Saving,
}

/// <summary>
/// Where a training run stands, published after every optimizer step and as evaluations and
/// checkpoints start and progress, so a live view moves on every step and through long
/// evaluations. Carries no loss (reading one would cost a device sync per step): the loss comes
/// with <see cref="TrainingStepEvent"/> every <see cref="TrainingOptions.LogEvery"/> steps.
/// </summary>
/// <param name="RunId">The run.</param>
/// <param name="Phase">What the run is doing.</param>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="TotalSteps">Optimizer steps the run will take.</param>
/// <param name="Epoch">Fractional epoch.</param>
/// <param name="Elapsed">Wall time since the run (or its resumption) started.</param>
/// <param name="Eta">Estimated time to the last step (null before the first step of this session).</param>
/// <param name="Done">Evaluating: validation batches scored so far; otherwise 0.</param>
/// <param name="Total">Evaluating: validation batches in all; otherwise 0.</param>
public sealed record TrainingPhaseEvent(string RunId, TrainingPhase Phase, int Step, int TotalSteps, double Epoch, TimeSpan Elapsed,
    TimeSpan? Eta, int Done = 0, int Total = 0) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source { get; init; } = "trainer";
}
