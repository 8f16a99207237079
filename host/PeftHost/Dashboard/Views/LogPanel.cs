using System.Collections.ObjectModel;
using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The Log panel: every log line and notable event, wrapped to the panel's width, filtered by
/// minimum level (v), source (o) and a search box (/). Enter on a line opens it whole in a detail
/// view (Esc closes it).
/// </summary>
public sealed class LogPanel : FrameView
{
    private readonly LogViewModel _vm;
    private readonly LinesView _filter = new() { X = 0, Y = 0, Width = Dim.Fill(44), Height = 1 };
    private readonly TextField _search = new() { Width = 14 };
    private readonly ObservableCollection<string> _lines = [];
    private readonly ListView _list = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = Dim.Fill() };
    private readonly FrameView _detail = new() { Title = "log line — Esc closes", X = 1, Y = 1, Width = Dim.Fill(1), Height = Dim.Fill(), Visible = false };
    private readonly TextPane _detailText = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), WordWrap = true };
    private IReadOnlyList<LogEntry> _rowEntries = [];
    private int _wrappedFor = -1;

    /// <summary>Builds the panel.</summary>
    public LogPanel(LogViewModel vm)
    {
        _vm = vm;
        Title = "Log";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _list.SetSource(_lines);
        _list.Accepting += (_, e) => { OpenDetail(); e.Handled = true; };
        // Rows are wrapped to the list's width: a resize re-wraps them.
        _list.FrameChanged += (_, _) => { if (_list.Viewport.Width != _wrappedFor) Refresh(); };
        var level = new FlatButton { X = Pos.AnchorEnd(43), Y = 0, Text = "Le_vel" };
        level.Accepting += (_, e) => { _vm.CycleLevel(); Refresh(); e.Handled = true; };
        var source = new FlatButton { X = Pos.Right(level) + 1, Y = 0, Text = "S_ource" };
        source.Accepting += (_, e) => { _vm.CycleSource(); Refresh(); e.Handled = true; };
        var searchLabel = new Label { X = Pos.Right(source) + 1, Y = 0, Text = "Find:" };
        _search.X = Pos.Right(searchLabel) + 1;
        _search.Y = 0;
        _search.TextChanged += (_, _) => { _vm.Search = _search.Text; Refresh(); };
        _detail.Add(_detailText);
        Add(_filter, level, source, searchLabel, _search, _list, _detail);
    }

    /// <summary>The view focused when the panel is shown: the log lines (Enter opens the selected one).</summary>
    public View MainAction => _list;

    /// <summary>True while a log line is open in the detail view.</summary>
    public bool DetailOpen => _detail.Visible;

    /// <summary>Handles v (level), o (source) and / (search) when no text field has focus; true when handled.</summary>
    public bool HandleLetter(char letter)
    {
        switch (letter)
        {
            case 'v': _vm.CycleLevel(); break;
            case 'o': _vm.CycleSource(); break;
            case '/': _search.SetFocus(); return true;
            default: return false;
        }
        Refresh();
        return true;
    }

    /// <summary>Closes the detail view (Esc); false when it was not open.</summary>
    public bool CloseDetail()
    {
        if (!_detail.Visible) return false;
        _detail.Visible = false;
        _list.SetFocus();
        SetNeedsDraw();
        return true;
    }

    /// <summary>Redraws from the view-model, following the newest line unless the user scrolled up.</summary>
    public void Refresh()
    {
        _filter.Lines = [_vm.FilterText];
        bool follow = _list.SelectedItem is null || _list.SelectedItem >= _lines.Count - 1;
        _wrappedFor = _list.Viewport.Width;
        var rows = _vm.WrappedRows(_wrappedFor > 0 ? _wrappedFor : 80);
        _rowEntries = rows.Select(r => r.Entry).ToList();
        ListSync.Update(_lines, rows.Select(r => r.Text).ToList());
        if (follow && _lines.Count > 0)
        {
            _list.SelectedItem = _lines.Count - 1;
            _list.EnsureSelectedItemVisible();
        }
    }

    private void OpenDetail()
    {
        if (_list.SelectedItem is not int row || row < 0 || row >= _rowEntries.Count) return;
        _detailText.Text = _rowEntries[row].Detail();
        _detail.Visible = true;
        _detailText.SetFocus();
        SetNeedsDraw();
    }
}
