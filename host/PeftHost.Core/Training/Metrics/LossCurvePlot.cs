using PeftHost.Core.IO;
using PeftHost.Core.Training.Checkpointing;

namespace PeftHost.Core.Training.Metrics;

/// <summary>Draws the training loss per step (and a moving average, and the validation loss) to a PNG with ScottPlot.</summary>
public static class LossCurvePlot
{
    /// <summary>The file name inside a run's output folder.</summary>
    public const string FileName = "loss.png";

    /// <summary>Writes the plot to <paramref name="path"/> (atomically).</summary>
    public static void Save(string path, IReadOnlyList<double> losses, IReadOnlyList<EvaluationRecord> evaluations, int width = 900, int height = 520)
    {
        var plot = new ScottPlot.Plot();
        var steps = Enumerable.Range(1, losses.Count).Select(i => (double)i).ToArray();
        var finite = losses.Select(l => double.IsFinite(l) ? l : double.NaN).ToArray();
        if (losses.Count > 0)
        {
            var raw = plot.Add.Scatter(steps, finite);
            raw.LegendText = "train loss";
            raw.MarkerSize = 0;
            raw.LineWidth = 1;
        }
        int window = Math.Max(1, losses.Count / 20);
        if (window > 1)
        {
            var smooth = plot.Add.Scatter(steps, MovingAverage(finite, window));
            smooth.LegendText = $"train loss ({window}-step mean)";
            smooth.MarkerSize = 0;
            smooth.LineWidth = 2;
        }
        var evals = evaluations.Where(e => e.Metrics.ContainsKey("eval_loss")).ToArray();
        if (evals.Length > 0)
        {
            var eval = plot.Add.Scatter(evals.Select(e => (double)e.Step).ToArray(), evals.Select(e => e.Metrics["eval_loss"]).ToArray());
            eval.LegendText = "validation loss";
            eval.MarkerSize = 6;
            eval.LineWidth = 2;
        }
        plot.Title("Loss");
        plot.XLabel("optimizer step");
        plot.YLabel("loss (nats/token)");
        plot.ShowLegend();
        var png = plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(png));
    }

    private static double[] MovingAverage(double[] values, int window)
    {
        var result = new double[values.Length];
        double sum = 0;
        int count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (double.IsFinite(values[i])) { sum += values[i]; count++; }
            if (i >= window && double.IsFinite(values[i - window])) { sum -= values[i - window]; count--; }
            result[i] = count > 0 ? sum / count : double.NaN;
        }
        return result;
    }
}
