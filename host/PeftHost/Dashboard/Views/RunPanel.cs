using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The Run panel: status, a progress bar with step, epoch and ETA, the metrics line (loss, eval,
/// learning rate, gradient norm, tokens/s), memory and trainable parameters, live training and
/// evaluation loss charts side by side, and the results: the evaluations and the recipe's own
/// tables, newest last, in a pane that scrolls (it has the focus when the panel shows).
/// </summary>
public sealed class RunPanel : FrameView
{
    private readonly RunViewModel _vm;
    private readonly LinesView _status = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 1 };
    private readonly ProgressBar _progress = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = 1, ProgressBarFormat = ProgressBarFormat.SimplePlusPercentage };
    private readonly LinesView _numbers = new() { X = 0, Y = 2, Width = Dim.Fill(), Height = 3 };
    private readonly ChartView _trainChart = new() { ChartTitle = "train loss", X = 0, Y = 5, Width = Dim.Percent(50), Height = Dim.Fill(7) };
    private readonly ChartView _evalChart = new() { ChartTitle = "eval loss", Y = 5, Width = Dim.Fill(), Height = Dim.Fill(7) };
    private readonly TextPane _results = new() { X = 0, Y = Pos.AnchorEnd(6), Width = Dim.Fill(), Height = 6, FollowEnd = true };

    /// <summary>Builds the panel.</summary>
    public RunPanel(RunViewModel vm)
    {
        _vm = vm;
        Title = "Run";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _evalChart.X = Pos.Right(_trainChart) + 1;
        var resultsTitle = new LinesView { X = 0, Y = Pos.AnchorEnd(7), Width = Dim.Fill(), Height = 1, Lines = ["results (↑↓ PgUp PgDn scroll)"] };
        Add(_status, _progress, _numbers, _trainChart, _evalChart, resultsTitle, _results);
        CanFocus = true;
    }

    /// <summary>The view focused when the panel is shown: the results, so the arrows scroll them.</summary>
    public View MainAction => _results;

    /// <summary>Redraws from the view-model.</summary>
    public void Refresh()
    {
        int width = Math.Max(20, Viewport.Width);
        _status.Lines = [DisplayFormat.Fit(_vm.StatusText, width).TrimEnd()];
        _progress.Fraction = (float)_vm.Fraction;
        _numbers.Lines = [_vm.ProgressText, _vm.MetricsText, _vm.MemoryText];
        double xMax = Math.Max(1, _vm.TotalSteps);
        _trainChart.SetSeries(_vm.TrainLossSeries, xMax);
        _evalChart.SetSeries(_vm.EvalLossSeries, xMax);
        _results.Text = _vm.FormatResults();
    }
}
