using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The Run panel: status, a progress bar with step, epoch and ETA, the metrics line (loss, eval,
/// learning rate, gradient norm, tokens/s), memory and trainable parameters, live training and
/// evaluation loss charts side by side, and the results: the evaluations and the recipe's own
/// tables, newest last, in a pane that scrolls (it has the focus when the panel shows).
/// <c>h</c> switches to the history of runs: the runs folder's runs, Space marks runs to compare
/// (loss curves overlaid, settings and results side by side); <c>h</c> again returns.
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

    private readonly RunHistoryViewModel? _history;
    private readonly Action<CommandResult> _report;
    private readonly View _current = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), CanFocus = true };
    private readonly View _historyView = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), Visible = false, CanFocus = true };
    private readonly System.Collections.ObjectModel.ObservableCollection<string> _runRows = [];
    private readonly ListView _runList = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = 5 };
    private readonly LinesView _compareChart = new() { X = 0, Y = 6, Width = Dim.Fill(), Height = Dim.Percent(40) };
    private readonly TextPane _compare = new() { X = 0, Width = Dim.Fill(), Height = Dim.Fill() };

    /// <summary>Builds the panel; <paramref name="history"/> (when given) is shown with <c>h</c>.</summary>
    public RunPanel(RunViewModel vm, RunHistoryViewModel? history = null, Action<CommandResult>? report = null)
    {
        _history = history;
        _report = report ?? (_ => { });
        _vm = vm;
        Title = "Run";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _evalChart.X = Pos.Right(_trainChart) + 1;
        var resultsTitle = new LinesView { X = 0, Y = Pos.AnchorEnd(7), Width = Dim.Fill(), Height = 1, Lines = ["results (↑↓ PgUp PgDn scroll)"] };
        _current.Add(_status, _progress, _numbers, _trainChart, _evalChart, resultsTitle, _results);
        _compare.Y = Pos.Bottom(_compareChart);
        _runList.SetSource(_runRows);
        _runList.ValueChanged += (_, e) =>
        {
            if (_history is null || e.NewValue is not int index || index == _history.SelectedIndex) return;
            _history.SelectedIndex = index;
            Refresh();
        };
        _historyView.Add(new LinesView { X = 0, Y = 0, Width = Dim.Fill(), Height = 1, Lines = ["history (Space marks runs to compare · h back to the run)"] },
            _runList, _compareChart, _compare);
        Add(_current, _historyView);
        CanFocus = true;
    }

    /// <summary>The view focused when the panel is shown: the results (the arrows scroll them), or the run list in the history.</summary>
    public View MainAction => _historyView.Visible ? _runList : _results;

    /// <summary>A letter typed with no text field focused: <c>h</c> toggles the history, Space marks a run in it. True when handled.</summary>
    public bool HandleLetter(char letter)
    {
        if (_history is null) return false;
        switch (letter)
        {
            case 'h':
                bool show = !_historyView.Visible;
                if (show) _history.Refresh();
                _historyView.Visible = show;
                _current.Visible = !show;
                Refresh();
                MainAction.SetFocus();
                _report(CommandResult.Ok(show ? $"history: {_history.Runs.Count} run{(_history.Runs.Count == 1 ? "" : "s")} in the runs folder; Space marks runs to compare" : "the current run"));
                return true;
            case ' ' when _historyView.Visible:
                _report(_history.ToggleMark());
                Refresh();
                return true;
            default:
                return false;
        }
    }

    /// <summary>Redraws from the view-model.</summary>
    public void Refresh()
    {
        if (_historyView.Visible && _history is not null)
        {
            ListSync.Update(_runRows, _history.Runs.Count == 0 ? ["(no runs with a run.json in the runs folder yet)"] : _history.FormatRows());
            if (_history.SelectedIndex >= 0 && _runList.SelectedItem != _history.SelectedIndex) _runList.SelectedItem = _history.SelectedIndex;
            int chartWidth = Math.Max(20, Viewport.Width), chartHeight = Math.Max(2, _compareChart.Frame.Height);
            _compareChart.Lines = _history.Compared.Count == 0 ? [] : _history.CompareChart(chartWidth, chartHeight);
            _compare.Text = _history.Compared.Count == 0 ? "" : string.Join("\n", _history.FormatCompare());
            return;
        }
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
