using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training;

/// <summary>The run ended, for whatever reason.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="Reason">Why it ended.</param>
/// <param name="Message">Details (the divergence, the handler's reason…).</param>
/// <param name="FinalLoss">The last step's loss, if a step was taken.</param>
/// <param name="Elapsed">Wall time of this session.</param>
/// <param name="LastCheckpoint">The newest checkpoint folder, if any.</param>
public sealed record TrainingFinishedEvent(string RunId, int Step, TrainingStopReason Reason, string? Message, double? FinalLoss,
    TimeSpan Elapsed, string? LastCheckpoint) : ITrainingRunEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source { get; init; } = "trainer";
}
