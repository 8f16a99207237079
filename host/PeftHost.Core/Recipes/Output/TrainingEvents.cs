using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Output;

/// <summary>How training events show on the console. (This build has no training engine: nothing to show yet.)</summary>
internal static class TrainingEvents
{
    /// <summary>The progress state of a training step event.</summary>
    public static ProgressLine? Progress(IHostEvent e) => null;

    /// <summary>The line for an evaluation, checkpoint or end-of-run event.</summary>
    public static string? Line(IHostEvent e) => null;
}
