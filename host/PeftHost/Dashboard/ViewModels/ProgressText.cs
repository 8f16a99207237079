using System.Globalization;
using PeftHost.Core.Training;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>The one-line progress texts of a training step, for a terminal (a bar) and for logs (plain).</summary>
public static class ProgressText
{
    /// <summary>Width of the bar between the brackets.</summary>
    public const int BarWidth = 24;

    /// <summary><c>[=========>              ]  12/40  epoch 0.30  loss 2.3141  1,234 tok/s  ETA 0:00:08</c>.</summary>
    public static string Bar(TrainingStepEvent e)
    {
        double fraction = e.TotalSteps <= 0 ? 0 : Math.Clamp((double)e.Step / e.TotalSteps, 0, 1);
        int filled = (int)Math.Round(fraction * BarWidth);
        string bar = filled == 0 ? new string(' ', BarWidth)
            : new string('=', filled - 1) + (filled == BarWidth ? "=" : ">") + new string(' ', BarWidth - filled);
        return string.Create(CultureInfo.InvariantCulture,
            $"[{bar}]  {e.Step}/{e.TotalSteps}  epoch {e.Epoch:0.00}  loss {DisplayFormat.Metric(e.Loss)}  {DisplayFormat.TokensPerSecond(e.TokensPerSecond)}  {DisplayFormat.Eta(e.Eta)}");
    }

    /// <summary><c>step 12/40 epoch 0.30 loss 2.3141 lr 3.00e-04 grad 0.8120 1234 tok/s eta 0:00:08</c>.</summary>
    public static string Plain(TrainingStepEvent e) => string.Create(CultureInfo.InvariantCulture,
        $"step {e.Step}/{e.TotalSteps} epoch {e.Epoch:0.00} loss {DisplayFormat.Metric(e.Loss)} lr {DisplayFormat.LearningRate(e.LearningRate)} grad {DisplayFormat.Metric(e.GradNorm)} {e.TokensPerSecond:0} tok/s eta {DisplayFormat.Duration(e.Eta)}");
}
