using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Telemetry;
using Terminal.Gui.App;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The dashboard's one window: the tab strip, the current panel, a message line and the status bar
/// with the global keys. Keys are resolved on the application keyboard (see <see cref="DashboardKeys"/>);
/// events arrive through <see cref="Pump"/> on the UI thread.
/// </summary>
public sealed class DashboardWindow : Window
{
    private readonly IApplication _app;
    private readonly DashboardViewModel _vm;
    private readonly DashboardSession _session;
    private readonly TabBar _tabs = new() { X = 0, Y = 0 };
    private readonly View _body = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = Dim.Fill(2), CanFocus = true };
    private readonly LinesView _message = new() { X = 0, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Height = 1 };
    private readonly HelpOverlay _help = new();
    private readonly Dictionary<DashboardPanel, View> _panels = [];
    private readonly Dictionary<DashboardPanel, View> _mainActions = [];
    private readonly PluginsPanel _plugins;
    private readonly RecipesPanel _recipes;
    private readonly RunPanel _run;
    private readonly AdaptersPanel _adapters;
    private readonly PlaygroundPanel _playground;
    private readonly LogPanel _log;
    private readonly FarmPanel _farm;
    private bool _quitWhenIdle;

    /// <summary>Builds the window for <paramref name="vm"/> over <paramref name="session"/>.</summary>
    public DashboardWindow(IApplication app, DashboardViewModel vm, DashboardSession session)
    {
        _app = app;
        _vm = vm;
        _session = session;
        Title = "PeftHost";
        BorderStyle = LineStyle.None;
        _plugins = new PluginsPanel(vm.Plugins, () => Perform(DashboardAction.ReloadPlugins));
        var datasets = new DatasetPickerViewModel(new Recipes.DatasetCatalog(session.Options.Workspace), () => session.Model.ModelPath);
        _recipes = new RecipesPanel(vm.Recipes, datasets, () => Perform(DashboardAction.Run), Report, session.Runs.InterruptedRun, ResumeSelectedRecipe);
        _run = new RunPanel(vm.Run, vm.History, Report);
        _adapters = new AdaptersPanel(vm.Adapters, Report);
        _playground = new PlaygroundPanel(vm.Playground, Report);
        _log = new LogPanel(vm.Log);
        _farm = new FarmPanel(vm.Farm);
        _panels[DashboardPanel.Plugins] = _plugins;
        _panels[DashboardPanel.Recipes] = _recipes;
        _panels[DashboardPanel.Run] = _run;
        _panels[DashboardPanel.Adapters] = _adapters;
        _panels[DashboardPanel.Playground] = _playground;
        _panels[DashboardPanel.Log] = _log;
        _panels[DashboardPanel.Farm] = _farm;
        // Showing a panel focuses its main action, never a text field: the digit keys then keep switching panels.
        _mainActions[DashboardPanel.Recipes] = _recipes.MainAction;
        _mainActions[DashboardPanel.Run] = _run.MainAction;
        _mainActions[DashboardPanel.Adapters] = _adapters.MainAction;
        _mainActions[DashboardPanel.Playground] = _playground.MainAction;
        _mainActions[DashboardPanel.Log] = _log.MainAction;
        _mainActions[DashboardPanel.Farm] = _farm.MainAction;
        foreach (var panel in _panels.Values)
        {
            panel.Visible = false;
            _body.Add(panel);
        }
        _tabs.PanelClicked += Show;
        var status = new StatusBar(
        [
            new Shortcut(Key.F1, "Help", () => Perform(DashboardAction.Help)),
            new Shortcut(Key.F5, "Run", () => Perform(DashboardAction.Run)),
            new Shortcut(Key.C.WithCtrl, "Stop", () => Perform(DashboardAction.Stop)),
            new Shortcut(Key.F9, "Reload", () => Perform(DashboardAction.ReloadPlugins)),
            new Shortcut(Key.F6, "Panel", () => Perform(DashboardAction.NextPanel)),
            new Shortcut(Key.Q, "Quit", () => Perform(DashboardAction.Quit)),
        ]);
        Add(_tabs, _body, _message, status, _help);
        _app.Keyboard.KeyDown += OnKeyDown;
        _recipes.Refresh();
        Show(_vm.Current);
        RefreshAll();
    }

    /// <summary>Applies queued bus events to the view-models and redraws the panels they changed.</summary>
    public void Pump(IReadOnlyList<IHostEvent> events)
    {
        var changed = new HashSet<DashboardPanel>();
        foreach (var e in events)
        {
            changed.UnionWith(_vm.Apply(e));
            if (e is Jobs.JobStartedEvent { Kind: Jobs.JobKind.Recipe } && _vm.Current == DashboardPanel.Recipes) Show(DashboardPanel.Run);
            if (e is Jobs.JobFinishedEvent finished)
            {
                if (finished.Kind == Jobs.JobKind.Recipe && _session.Runs.LastOutputFolder is { } output && _vm.Adapters.OfferRunOutputs(output) is { } adapter)
                    _adapters.OfferFolder(adapter);
                if (finished.Kind == Jobs.JobKind.Recipe) _recipes.RefreshResume();
                if (_quitWhenIdle) _app.RequestStop();
            }
        }
        if (events.Count == 0) return;
        // Only the panel on screen redraws now; the others catch up when shown.
        if (changed.Contains(_vm.Current)) Refresh(_vm.Current);
        _tabs.Job = _vm.RunningJob ?? "";
        _message.Lines = [_vm.Status];
    }

    /// <summary>
    /// Takes a memory sample for the Run panel; shows the farm's latest poll when the Farm panel is on screen; when idle,
    /// applies plugin reloads that rebuilt files made pending.
    /// </summary>
    public void Tick()
    {
        _vm.Run.SetMemory(ProcessMemory.Read());
        if (_vm.Current == DashboardPanel.Run) _run.Refresh();
        if (_vm.Current == DashboardPanel.Farm) _farm.Refresh(force: false);
        if (!_session.Jobs.IsBusy && _session.Plugins.HasPendingReloads) _session.PluginCommands.TryApplyNow();
    }

    /// <summary>Unhooks the keyboard.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _app.Keyboard.KeyDown -= OnKeyDown;
        base.Dispose(disposing);
    }

    private void OnKeyDown(object? sender, Key key)
    {
        bool typing = _app.Navigation?.GetFocused() is TextField;
        if (DashboardKeys.Resolve(key, typing) is { } action)
        {
            // Esc is always taken: Terminal.Gui's default binding would quit the application.
            key.Handled = true;
            Perform(action);
            return;
        }
        if (typing || key.IsCtrl || key.IsAlt) return;
        char letter = (char)key.AsRune.Value;
        bool handled = _vm.Current switch
        {
            DashboardPanel.Recipes when letter == 'y' => CopyCommand(),
            DashboardPanel.Recipes => _recipes.HandleLetter(letter),
            DashboardPanel.Run => _run.HandleLetter(letter),
            DashboardPanel.Adapters => _adapters.HandleLetter(letter),
            DashboardPanel.Playground => _playground.HandleLetter(letter),
            DashboardPanel.Log => _log.HandleLetter(letter),
            _ => false,
        };
        if (handled) key.Handled = true;
    }

    private void Perform(DashboardAction action)
    {
        switch (action)
        {
            case DashboardAction.Help:
                ToggleHelp(!_vm.HelpVisible);
                break;
            case DashboardAction.Close:
                if (!_vm.HelpVisible && _vm.Current == DashboardPanel.Log && _log.CloseDetail()) break;
                if (!_vm.HelpVisible && _vm.Current == DashboardPanel.Recipes && _recipes.CloseOverlay()) break;
                ToggleHelp(false);
                break;
            case DashboardAction.Run:
                RunSelectedRecipe();
                break;
            case DashboardAction.Stop:
                Report(_session.Runs.Stop());
                break;
            case DashboardAction.ReloadPlugins:
                Report(_session.PluginCommands.Reload());
                break;
            case DashboardAction.NextPanel:
                _vm.Cycle(1);
                Show(_vm.Current);
                break;
            case DashboardAction.PreviousPanel:
                _vm.Cycle(-1);
                Show(_vm.Current);
                break;
            case DashboardAction.Quit:
                Quit();
                break;
            default:
                if (DashboardKeys.PanelOf(action) is { } panel) Show(panel);
                break;
        }
    }

    private void RunSelectedRecipe()
    {
        var recipes = _vm.Recipes;
        if (recipes.Selected is not { } recipe)
        {
            Report(CommandResult.Refused($"no recipe selected (recipes folder: {recipes.Folder})"));
            return;
        }
        if (recipes.Form.Errors is { Count: > 0 } errors)
        {
            Report(CommandResult.Refused("fix the form first: " + errors[0]));
            Show(DashboardPanel.Recipes);
            return;
        }
        Report(_session.Runs.Run(recipe, recipes.Form.SetValues()));
    }

    /// <summary>Resume (or r) in Recipes: continues the selected recipe's newest stopped or failed run, as <c>peft run --resume</c>.</summary>
    private CommandResult ResumeSelectedRecipe() => _vm.Recipes.Selected is { } recipe
        ? _session.Runs.Resume(recipe)
        : CommandResult.Refused($"no recipe selected (recipes folder: {_vm.Recipes.Folder})");

    /// <summary>y in Recipes: the run command to the system clipboard, where Terminal.Gui reaches one.</summary>
    private bool CopyCommand()
    {
        if (_recipes.Command is not { } command)
        {
            Report(CommandResult.Refused("nothing to copy: select a recipe and fix the form"));
            return true;
        }
        bool copied = _app.Clipboard is { IsSupported: true } clipboard && clipboard.TrySetClipboardData(command);
        Report(copied ? CommandResult.Ok("copied to the clipboard: " + command)
            : CommandResult.Refused("no system clipboard here (xclip on Linux): select the command's rows instead, they paste as one command"));
        return true;
    }

    private void Quit()
    {
        if (_session.Jobs.IsBusy)
        {
            if (_quitWhenIdle)
            {
                _app.RequestStop(); // second q: do not wait
                return;
            }
            _quitWhenIdle = true;
            _session.Jobs.Cancel();
            Report(CommandResult.Ok("stopping the running job before quitting (q again quits now)…"));
            return;
        }
        _app.RequestStop();
    }

    private void Show(DashboardPanel panel)
    {
        ToggleHelp(false);
        _vm.Current = panel;
        _tabs.Current = panel;
        foreach (var (p, view) in _panels) view.Visible = p == panel;
        Refresh(panel);
        _panels[panel].SetFocus();
        if (_mainActions.TryGetValue(panel, out var main)) main.SetFocus();
    }

    private void ToggleHelp(bool visible)
    {
        _vm.HelpVisible = visible;
        _help.Visible = visible;
        if (visible) _help.SetNeedsDraw();
        SetNeedsDraw();
    }

    private void Report(CommandResult result)
    {
        _vm.Status = result.Message;
        _message.Lines = [result.Message];
    }

    private void RefreshAll()
    {
        foreach (var panel in _panels.Keys) Refresh(panel);
        _message.Lines = [_vm.Status];
    }

    private void Refresh(DashboardPanel panel)
    {
        switch (panel)
        {
            case DashboardPanel.Plugins: _plugins.Refresh(); break;
            case DashboardPanel.Recipes: _recipes.Refresh(); break; // re-lists the folder; the form keeps its edits
            case DashboardPanel.Run: _run.Refresh(); break;
            case DashboardPanel.Adapters: _adapters.Refresh(); break;
            case DashboardPanel.Playground: _playground.Refresh(); break;
            case DashboardPanel.Log: _log.Refresh(); break;
            case DashboardPanel.Farm: _farm.Refresh(); break;
        }
    }
}
