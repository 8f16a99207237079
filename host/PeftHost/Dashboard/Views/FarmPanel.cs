using System.Collections.ObjectModel;
using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The Farm panel: a summary line, the silos (up to <see cref="SiloRows"/> rows) and the jobs (the rest, scrollable),
/// each under its column header; without a farm, how to connect one. Redrawn when a poll brought news.
/// </summary>
public sealed class FarmPanel : FrameView
{
    /// <summary>Rows for the silo list: a small farm fits, a larger one scrolls, and the jobs keep most of 80×24.</summary>
    private const int SiloRows = 4;

    private readonly FarmViewModel _vm;
    private readonly LinesView _summary = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 1 };
    private readonly LinesView _siloHeader = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = 1 };
    private readonly ListView _silos = new() { X = 0, Y = 2, Width = Dim.Fill(), Height = SiloRows };
    private readonly LinesView _jobHeader = new() { X = 0, Y = 2 + SiloRows, Width = Dim.Fill(), Height = 1 };
    private readonly ListView _jobs = new() { X = 0, Y = 3 + SiloRows, Width = Dim.Fill(), Height = Dim.Fill() };
    private readonly LinesView _notConnected = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };
    private readonly ObservableCollection<string> _siloRows = [];
    private readonly ObservableCollection<string> _jobRows = [];
    private int _shownVersion = -1;

    /// <summary>Builds the panel over <paramref name="vm"/>.</summary>
    public FarmPanel(FarmViewModel vm)
    {
        _vm = vm;
        Title = "Farm";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _silos.SetSource(_siloRows);
        _jobs.SetSource(_jobRows);
        if (vm.Connected) Add(_summary, _siloHeader, _silos, _jobHeader, _jobs);
        else
        {
            _notConnected.Lines = FarmViewModel.NotConnected.Split('\n');
            Add(_notConnected);
        }
    }

    /// <summary>The view that takes focus when the panel shows (the job list, to scroll it).</summary>
    public View MainAction => _vm.Connected ? _jobs : _notConnected;

    /// <summary>Redraws when a poll brought a new overview (or always, with <paramref name="force"/>).</summary>
    public void Refresh(bool force = true)
    {
        if (!_vm.Connected) return;
        int version = _vm.Version;
        if (!force && version == _shownVersion) return;
        _shownVersion = version;
        int width = Math.Max(40, Viewport.Width);
        _summary.Lines = [_vm.Summary()];
        _siloHeader.Lines = [FarmViewModel.SiloHeader(width)];
        _jobHeader.Lines = [FarmViewModel.JobHeader(width)];
        ListSync.Update(_siloRows, _vm.SiloRows(width));
        ListSync.Update(_jobRows, _vm.JobRows(width));
    }
}
