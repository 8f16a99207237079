using System.Collections.ObjectModel;
using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>The Log panel: every log line and notable event, filtered by minimum level (v), source (o) and a search box (/).</summary>
public sealed class LogPanel : FrameView
{
    private readonly LogViewModel _vm;
    private readonly LinesView _filter = new() { X = 0, Y = 0, Width = Dim.Fill(44), Height = 1 };
    private readonly TextField _search = new() { Width = 14 };
    private readonly ObservableCollection<string> _lines = [];
    private readonly ListView _list = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = Dim.Fill() };

    /// <summary>Builds the panel.</summary>
    public LogPanel(LogViewModel vm)
    {
        _vm = vm;
        Title = "Log";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _list.SetSource(_lines);
        var level = new FlatButton { X = Pos.AnchorEnd(43), Y = 0, Text = "Le_vel" };
        level.Accepting += (_, e) => { _vm.CycleLevel(); Refresh(); e.Handled = true; };
        var source = new FlatButton { X = Pos.Right(level) + 1, Y = 0, Text = "S_ource" };
        source.Accepting += (_, e) => { _vm.CycleSource(); Refresh(); e.Handled = true; };
        var searchLabel = new Label { X = Pos.Right(source) + 1, Y = 0, Text = "Find:" };
        _search.X = Pos.Right(searchLabel) + 1;
        _search.Y = 0;
        _search.TextChanged += (_, _) => { _vm.Search = _search.Text; Refresh(); };
        Add(_filter, level, source, searchLabel, _search, _list);
    }

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

    /// <summary>Redraws from the view-model, following the newest line unless the user scrolled up.</summary>
    public void Refresh()
    {
        _filter.Lines = [_vm.FilterText];
        bool follow = _list.SelectedItem is null || _list.SelectedItem >= _lines.Count - 1;
        ListSync.Update(_lines, _vm.VisibleLines);
        if (follow && _lines.Count > 0)
        {
            _list.SelectedItem = _lines.Count - 1;
            _list.EnsureSelectedItemVisible();
        }
    }
}
