using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training;

/// <summary>A checkpoint was written (and older ones beyond the keep limit removed).</summary>
/// <param name="RunId">The run.</param>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="Path">The checkpoint folder.</param>
/// <param name="Removed">Folders of older checkpoints removed by the keep-last rule.</param>
public sealed record CheckpointEvent(string RunId, int Step, string Path, IReadOnlyList<string> Removed) : ITrainingRunEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source { get; init; } = "trainer";
}
