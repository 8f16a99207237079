using System.Globalization;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Output;

/// <summary>One state of a long step's progress: step of total, loss, tokens per second, time left.</summary>
/// <param name="Label">What is running ("train").</param>
/// <param name="Step">Steps done.</param>
/// <param name="Total">Steps planned.</param>
/// <param name="Loss">The latest loss, if any.</param>
/// <param name="TokensPerSecond">Throughput, if known.</param>
/// <param name="Eta">Estimated time left.</param>
/// <param name="Final">True for the last state (the bar is ended with a newline).</param>
/// <param name="TerminalOnly">Shown as a live bar on a terminal, never as log lines (a generation's progress).</param>
public sealed record ProgressLine(string Label, int Step, int Total, double? Loss, double? TokensPerSecond, TimeSpan? Eta, bool Final = false, bool TerminalOnly = false)
{
    private const int BarWidth = 24;

    /// <summary>The progress line for <paramref name="e"/>, when it is a progress event.</summary>
    public static ProgressLine? From(IHostEvent e) => e is RecipeProgressEvent p
        ? new ProgressLine(p.Step, p.Done, p.Total, null, p.UnitsPerSecond, null, p.Final, TerminalOnly: true)
        : TrainingEvents.Progress(e);

    /// <summary><c>train  [=========>        ]  120/500  loss 2.3141  1,234 tok/s  ETA 0:03:12</c></summary>
    public string Bar()
    {
        int filled = Total <= 0 ? 0 : (int)Math.Round(BarWidth * Math.Clamp((double)Step / Total, 0, 1));
        string bar = new string('=', Math.Max(0, filled - 1)) + (filled > 0 ? (filled == BarWidth ? "=" : ">") : "") + new string(' ', BarWidth - filled);
        return $"{Label}  [{bar}]  {Details()}";
    }

    /// <summary><c>train step 120/500 loss 2.3141 1,234 tok/s ETA 0:03:12</c></summary>
    public string Plain() => $"{Label} {Details().Replace("  ", " ")}";

    private string Details()
    {
        var parts = new List<string> { string.Create(CultureInfo.InvariantCulture, $"step {Step}/{Total}") };
        if (Loss is double loss) parts.Add(string.Create(CultureInfo.InvariantCulture, $"loss {loss:F4}"));
        if (TokensPerSecond is double tps) parts.Add(string.Create(CultureInfo.InvariantCulture, $"{tps:N0} tok/s"));
        if (Eta is TimeSpan eta && !Final) parts.Add($"ETA {(int)eta.TotalHours}:{eta.Minutes:00}:{eta.Seconds:00}");
        return string.Join("  ", parts);
    }
}
