using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Output;

/// <summary>The one-line console text of events that are not log lines or progress (evaluations, checkpoints, run ends).</summary>
public static class EventLine
{
    /// <summary>The text for <paramref name="e"/>, or null when it is not shown.</summary>
    public static string? From(IHostEvent e) => TrainingEvents.Line(e);
}
