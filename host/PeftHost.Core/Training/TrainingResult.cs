using PeftHost.Core.Training.Checkpointing;

namespace PeftHost.Core.Training;

/// <summary>How a training run went.</summary>
/// <param name="RunId">The run.</param>
/// <param name="GlobalStep">Optimizer steps completed (including those before a resume).</param>
/// <param name="TotalSteps">Steps the run was planned to take.</param>
/// <param name="Reason">Why it ended.</param>
/// <param name="Message">Details (a handler's reason, the early-stopping metric…).</param>
/// <param name="Losses">Every step's loss, index = step (0-based), including steps before a resume.</param>
/// <param name="Evaluations">Every evaluation.</param>
/// <param name="LastCheckpoint">The newest checkpoint folder, if any.</param>
/// <param name="BestMetric">The best early-stopping metric, if tracked.</param>
/// <param name="BestStep">Its step.</param>
/// <param name="BestCheckpoint">The checkpoint written at <paramref name="BestStep"/>, if any (loaded at the end with LoadBestModelAtEnd).</param>
/// <param name="Elapsed">Wall time of this session.</param>
public sealed record TrainingResult(string RunId, int GlobalStep, int TotalSteps, TrainingStopReason Reason, string? Message,
    IReadOnlyList<double> Losses, IReadOnlyList<EvaluationRecord> Evaluations, string? LastCheckpoint,
    double? BestMetric, int? BestStep, string? BestCheckpoint, TimeSpan Elapsed)
{
    /// <summary>Bytes the optimizer's state held when the run ended (float32 moments, or 8-bit codes and their scales).</summary>
    public long OptimizerStateBytes { get; init; }
}
