using System.Collections.ObjectModel;
using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>The Plugins panel: the plugins with what they provide, version, SDK and state; the selected one's details and failure reason; the latest change.</summary>
public sealed class PluginsPanel : FrameView
{
    private readonly PluginsViewModel _vm;
    private readonly LinesView _header = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 1 };
    private readonly ListView _list = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = Dim.Fill(9) };
    private readonly LinesView _change = new() { X = 0, Y = Pos.AnchorEnd(9), Width = Dim.Fill(), Height = 1 };
    private readonly LinesView _details = new() { X = 0, Y = Pos.AnchorEnd(7), Width = Dim.Fill(), Height = 6 };
    private readonly ObservableCollection<string> _rows = [];

    /// <summary>Builds the panel; <paramref name="reload"/> is the F9 action (also on the button).</summary>
    public PluginsPanel(PluginsViewModel vm, Action reload)
    {
        _vm = vm;
        Title = "Plugins";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _list.SetSource(_rows);
        _list.ValueChanged += (_, e) =>
        {
            _vm.SelectedIndex = e.NewValue ?? -1;
            _details.Lines = _vm.Details();
        };
        var reloadButton = new FlatButton { X = 0, Y = Pos.AnchorEnd(1), Text = "Reload plugins (F9)" };
        reloadButton.Accepting += (_, e) => { reload(); e.Handled = true; };
        Add(_header, _list, _change, _details, reloadButton);
    }

    /// <summary>Redraws from the view-model.</summary>
    public void Refresh()
    {
        int width = Math.Max(20, Viewport.Width);
        _header.Lines = [PluginsViewModel.Header(width)];
        ListSync.Update(_rows, _vm.FormatRows(width));
        if (_list.SelectedItem is null && _rows.Count > 0) _list.SelectedItem = Math.Max(0, _vm.SelectedIndex);
        _change.Lines = [_vm.LastChange is null ? "" : "latest: " + _vm.LastChange];
        _details.Lines = _vm.Details();
    }
}
