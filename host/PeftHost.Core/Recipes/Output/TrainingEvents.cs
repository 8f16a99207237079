using System.Globalization;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;

namespace PeftHost.Core.Recipes.Output;

/// <summary>How training events show on the console: progress for step events, one line for evaluations and checkpoints.</summary>
internal static class TrainingEvents
{
    /// <summary>The progress state of a training step event.</summary>
    public static ProgressLine? Progress(IHostEvent e) => e is TrainingStepEvent s
        ? new ProgressLine("train", s.Step, s.TotalSteps, s.Loss, s.TokensPerSecond, s.Eta, Final: s.Step >= s.TotalSteps)
        : null;

    /// <summary>The line for an evaluation or checkpoint event (a run's end is reported by <c>train</c> itself).</summary>
    public static string? Line(IHostEvent e) => e switch
    {
        EvaluationEvent ev => $"eval @ step {ev.Step}: " + string.Join("  ", ev.Metrics.Take(6).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:G5}"))),
        CheckpointEvent c => $"checkpoint @ step {c.Step}: {c.Path}",
        _ => null,
    };
}
