using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>A titled line chart (see <see cref="LineChart"/>): the title and latest value on the first row, the chart below.</summary>
public sealed class ChartView : View
{
    private IReadOnlyList<(double X, double Y)> _points = [];
    private double _xMax = 1;

    /// <summary>The chart's name (<c>train loss</c>).</summary>
    public string ChartTitle { get; set; } = "";

    /// <summary>Sets the points and the x range end (the run's total steps) and redraws.</summary>
    public void SetSeries(IReadOnlyList<(double X, double Y)> points, double xMax)
    {
        _points = points.ToList();
        _xMax = xMax;
        SetNeedsDraw();
    }

    /// <inheritdoc />
    protected override bool OnDrawingContent(DrawContext? context)
    {
        var viewport = Viewport;
        if (viewport.Height <= 0 || viewport.Width <= 0) return true;
        SetAttributeForRole(VisualRole.Normal);
        string latest = _points.Count == 0 ? "–" : DisplayFormat.Metric(_points[^1].Y);
        string title = $"{ChartTitle}: {latest}";
        AddStr(0, 0, DisplayFormat.Fit(title, viewport.Width));
        double xMax = Math.Max(_xMax, _points.Count == 0 ? 1 : _points[^1].X);
        var lines = LineChart.Render(_points, 0, xMax, viewport.Width, viewport.Height - 1);
        for (int row = 0; row < lines.Count; row++) AddStr(0, row + 1, DisplayFormat.Fit(lines[row], viewport.Width));
        return true;
    }
}
