using System.Globalization;
using System.Text;
using PeftHost.Core.IO;

namespace PeftHost.Bench;

/// <summary>What a suite returns: its Markdown section body and the charts drawn from the same numbers.</summary>
/// <param name="Markdown">The section body (without the title and the machine line, which the report adds).</param>
/// <param name="Charts">Charts to render next to the section; may be empty.</param>
public sealed record SuiteResult(string Markdown, IReadOnlyList<BenchChart> Charts)
{
    /// <summary>A section without charts.</summary>
    public static SuiteResult Text(string markdown) => new(markdown, []);
}

/// <summary>One named series of a grouped bar chart: a value per category.</summary>
/// <param name="Name">The legend text.</param>
/// <param name="Values">One value per category, in the chart's category order.</param>
public sealed record ChartSeries(string Name, double[] Values);

/// <summary>
/// A grouped bar chart: for each category, one bar per series side by side. Rendered by
/// <see cref="BenchCharts"/> to <c>bench/charts/&lt;suite&gt;-&lt;Name&gt;.png</c>.
/// </summary>
/// <param name="Name">The file-name part after the suite name (lower case, dashes).</param>
/// <param name="Title">The chart title, also the Markdown image's alt text.</param>
/// <param name="YLabel">The value axis label, with its unit.</param>
/// <param name="Categories">The groups along the horizontal axis.</param>
/// <param name="Series">The bars in each group; one series draws plain bars without a legend.</param>
public sealed record BenchChart(string Name, string Title, string YLabel, IReadOnlyList<string> Categories, IReadOnlyList<ChartSeries> Series);

/// <summary>Renders <see cref="BenchChart"/>s to PNG with ScottPlot 5 and links them from the section.</summary>
public static class BenchCharts
{
    /// <summary>Pixel size of every chart.</summary>
    public const int Width = 800, Height = 450;

    /// <summary>
    /// Renders each chart of <paramref name="suite"/> to <c>{folder}/{suite}-{name}.png</c> (atomically:
    /// a temporary file renamed over the old one), removes that suite's PNGs no longer produced, and
    /// returns the Markdown image links to append to the section. A chart that fails to render is
    /// reported on stderr and in the returned Markdown; the measurements are never lost to it.
    /// </summary>
    public static string Render(string suite, IReadOnlyList<BenchChart> charts, string folder)
    {
        var sb = new StringBuilder();
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach (var chart in charts)
        {
            string file = $"{suite}-{chart.Name}.png";
            try
            {
                byte[] png = Draw(chart);
                AtomicFile.Write(Path.Combine(folder, file), s => s.Write(png));
                written.Add(file);
                sb.Append($"\n![{chart.Title}](charts/{file})\n");
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                string reason = $"{e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}";
                Console.Error.WriteLine($"chart {file} not rendered: {reason}");
                sb.Append($"\nChart `{file}` not rendered ({reason}).\n");
            }
        }
        RemoveStale(suite, folder, written);
        return sb.ToString();
    }

    /// <summary>Draws one grouped bar chart (values ≥ 0; bars rise from zero), every bar labelled with its value; returns the PNG bytes.</summary>
    public static byte[] Draw(BenchChart chart)
    {
        int groups = chart.Categories.Count, perGroup = chart.Series.Count;
        if (perGroup == 0 || chart.Series.Any(s => s.Values.Length != groups))
            throw new ArgumentException($"chart {chart.Name}: every series needs one value per category ({groups})");
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        if (SansFamily.Value is string family) plot.Font.Set(family);
        // Category c's bars sit at c·(perGroup+½) + s: half a bar's slot between groups.
        double Position(int category, int series) => category * (perGroup + 0.5) + series;
        double max = 0;
        for (int s = 0; s < perGroup; s++)
        {
            var color = palette.GetColor(s);
            var bars = chart.Series[s].Values.Select((v, c) => new ScottPlot.Bar
            {
                Position = Position(c, s),
                Value = double.IsFinite(v) ? v : 0,
                Size = 0.9,
                FillColor = color,
                LineWidth = 0,
                Label = FormatValue(v),
            }).ToList();
            var barPlot = plot.Add.Bars(bars);
            barPlot.LegendText = chart.Series[s].Name;
            barPlot.ValueLabelStyle.FontSize = perGroup * groups > 12 ? 11 : 13;
            max = Math.Max(max, bars.Max(b => b.Value));
        }
        var ticks = Enumerable.Range(0, groups).Select(c => Position(c, 0) + (perGroup - 1) / 2.0).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, chart.Categories.ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Grid.XAxisStyle.IsVisible = false;
        // Bars rise from zero; headroom above the tallest bar for its value label.
        plot.Axes.SetLimits(-0.75, Position(groups - 1, perGroup - 1) + 0.75, 0, max > 0 ? max * 1.15 : 1);
        plot.Title(chart.Title);
        plot.YLabel(chart.YLabel);
        // Below the plot, so it never hides a bar or its label.
        if (perGroup > 1) plot.ShowLegend(ScottPlot.Edge.Bottom);
        else plot.HideLegend();
        return plot.GetImageBytes(Width, Height, ScottPlot.ImageFormat.Png);
    }

    /// <summary>
    /// A sans-serif family the renderer can find, or null to keep ScottPlot's default. Without this,
    /// SkiaSharp's self-contained Linux build (no fontconfig; it scans /usr/share/fonts) fell back
    /// to DejaVu Serif on the machine the harness was written on.
    /// </summary>
    private static readonly Lazy<string?> SansFamily = new(() =>
        new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Open Sans", "Arial", "Helvetica" }
            .FirstOrDefault(Installed));

    /// <summary>Whether the font manager has <paramref name="family"/> itself (not a fallback for it).</summary>
    private static bool Installed(string family)
    {
        using var typeface = SkiaSharp.SKFontManager.Default.MatchFamily(family);
        return typeface is not null && string.Equals(typeface.FamilyName, family, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A value label with about three significant figures.</summary>
    private static string FormatValue(double v) =>
        !double.IsFinite(v) ? "n/a" : v.ToString(Math.Abs(v) >= 100 ? "F0" : Math.Abs(v) >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);

    /// <summary>Deletes <c>{suite}-*.png</c> files in <paramref name="folder"/> that this run did not write (charts since removed).</summary>
    private static void RemoveStale(string suite, string folder, HashSet<string> written)
    {
        if (!Directory.Exists(folder)) return;
        // A longer suite name that starts with this one ("x" and "x-y") owns its own files.
        var longer = BenchSuites.All.Select(s => s.Name).Where(n => n.Length > suite.Length && n.StartsWith(suite + "-", StringComparison.Ordinal)).ToList();
        foreach (var path in Directory.GetFiles(folder, $"{suite}-*.png"))
        {
            string name = Path.GetFileName(path);
            if (written.Contains(name) || longer.Any(n => name.StartsWith(n + "-", StringComparison.Ordinal))) continue;
            File.Delete(path);
        }
    }
}
