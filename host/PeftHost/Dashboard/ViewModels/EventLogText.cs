using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>
/// The log line an event that is not a <see cref="LogEvent"/> leaves in the Log panel, so the log
/// tells the whole story: plugins, jobs, evaluations, checkpoints, run ends. Training steps and
/// streamed tokens are too frequent for the log and are left to their panels.
/// </summary>
public static class EventLogText
{
    /// <summary>The level and message for <paramref name="e"/>, or null when it is not logged.</summary>
    public static (LogLevel Level, string Message)? From(IHostEvent e) => PluginEventText.From(e) ?? HostEvent(e);

    private static (LogLevel Level, string Message)? HostEvent(IHostEvent e) => e switch
    {
        JobStartedEvent j => (LogLevel.Info, $"started {j.Kind.ToString().ToLowerInvariant()} job #{j.JobId}: {j.Name}"),
        JobCancellingEvent j => (LogLevel.Warning, $"stopping {j.Kind.ToString().ToLowerInvariant()} job #{j.JobId} {j.Name}" +
            (j.Kind == JobKind.Recipe ? " (checkpoint at the next step boundary)" : "")),
        JobFinishedEvent j => (j.Outcome == JobOutcome.Failed ? LogLevel.Error : LogLevel.Info,
            $"{j.Kind.ToString().ToLowerInvariant()} job #{j.JobId} {j.Name} {j.Outcome.ToString().ToLowerInvariant()} after {DisplayFormat.Duration(j.Elapsed)}" +
            (j.Message is null ? "" : $": {j.Message}")),
        EvaluationEvent ev => (LogLevel.Info, $"evaluation at step {ev.Step}: " +
            string.Join(", ", ev.Metrics.Select(m => $"{m.Key} {DisplayFormat.Metric(m.Value)}"))),
        CheckpointEvent c => (LogLevel.Info, $"checkpoint at step {c.Step}: {c.Path}"),
        TrainingFinishedEvent f => (f.Reason == TrainingStopReason.Diverged ? LogLevel.Error : LogLevel.Info,
            $"training {f.Reason.ToString().ToLowerInvariant()} at step {f.Step}" +
            (f.FinalLoss is double loss ? $", loss {DisplayFormat.Metric(loss)}" : "") + (f.Message is null ? "" : $": {f.Message}")),
        ModelChangedEvent m => (LogLevel.Info, m.Snapshot.Summary),
        GenerationFinishedEvent g => (g.Error is null ? LogLevel.Info : LogLevel.Error,
            g.Error is null ? $"generation #{g.RequestId} done: {g.Tokens} tokens" : $"generation #{g.RequestId} failed: {g.Error}"),
        _ => null,
    };
}
