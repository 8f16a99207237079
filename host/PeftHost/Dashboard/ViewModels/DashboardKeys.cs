using Terminal.Gui.Drivers;
using Terminal.Gui.Input;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>The dashboard's panels, in tab order.</summary>
public enum DashboardPanel
{
    /// <summary>Loaded plugins: methods, quantizers, versions, states.</summary>
    Plugins,
    /// <summary>The recipes folder: source, parameter form, run.</summary>
    Recipes,
    /// <summary>The current run: progress, loss charts, metrics, memory, results.</summary>
    Run,
    /// <summary>The model's adapters: set active, disable, merge, save, load.</summary>
    Adapters,
    /// <summary>Prompt the model with and without its adapter.</summary>
    Playground,
    /// <summary>Everything that happened, filterable.</summary>
    Log,
    /// <summary>A farm's silos and jobs (<c>peft tui --cluster</c>).</summary>
    Farm,
}

/// <summary>What a global key does.</summary>
public enum DashboardAction
{
    /// <summary>F1: show or hide help.</summary>
    Help,
    /// <summary>F5: run the selected recipe.</summary>
    Run,
    /// <summary>Ctrl-C: stop the running job (a run checkpoints first).</summary>
    Stop,
    /// <summary>F9: rescan and reload plugins at the next step boundary.</summary>
    ReloadPlugins,
    /// <summary>q (no text field focused) or Ctrl-Q: quit.</summary>
    Quit,
    /// <summary>F6: the next panel.</summary>
    NextPanel,
    /// <summary>Shift-F6: the previous panel.</summary>
    PreviousPanel,
    /// <summary>Escape: close help.</summary>
    Close,
    /// <summary>Alt-1…7, or 1…7 with no text field focused: show panel 1…7.</summary>
    ShowPlugins,
    /// <summary>Show the Recipes panel.</summary>
    ShowRecipes,
    /// <summary>Show the Run panel.</summary>
    ShowRun,
    /// <summary>Show the Adapters panel.</summary>
    ShowAdapters,
    /// <summary>Show the Playground panel.</summary>
    ShowPlayground,
    /// <summary>Show the Log panel.</summary>
    ShowLog,
    /// <summary>Show the Farm panel.</summary>
    ShowFarm,
}

/// <summary>
/// The dashboard's global keys, resolved on the application keyboard before any view sees them
/// (a focused list would otherwise eat letters). Plain letters and digits act only when no text
/// field has focus, so typing a prompt or a parameter never quits or switches panels.
/// </summary>
public static class DashboardKeys
{
    /// <summary>The key bindings as help lines (key, what it does).</summary>
    public static IReadOnlyList<(string Key, string Action)> Help { get; } =
    [
        ("F1, Esc", "show / close this help"),
        ("F5", "run the selected recipe with the form's values"),
        ("Ctrl-C", "stop the run (checkpoint at the next step)"),
        ("F9", "rescan + reload plugins (at the next step)"),
        ("F6, Shift-F6", "next / previous panel"),
        ("Alt-1…7, 1…7", "show a panel (digits when not typing)"),
        ("Tab, Shift-Tab", "move between controls; Enter acts"),
        ("q, Ctrl-Q", "quit (q when not typing)"),
        ("a d m s e l", "Adapters: activate disable merge save export load"),
        ("o", "Adapters: open the model folder in the field"),
        ("c n", "Playground: chat/completion, new chat"),
        ("v o /", "Log: level, source, find"),
        ("Enter, Esc", "Log: open a line whole, close it"),
        ("y, r", "Recipes: copy the run command, resume a stopped run"),
        ("d p, h Space", "Recipes: dataset, presets; Run: history, mark"),
    ];

    /// <summary>The action of <paramref name="key"/>, or null when the key is not global.</summary>
    /// <param name="key">The key pressed.</param>
    /// <param name="typing">True when a text field or text editor has focus.</param>
    public static DashboardAction? Resolve(Key key, bool typing)
    {
        if (key == Key.F1) return DashboardAction.Help;
        if (key == Key.F5) return DashboardAction.Run;
        if (key == Key.C.WithCtrl) return DashboardAction.Stop;
        if (key == Key.F9) return DashboardAction.ReloadPlugins;
        if (key == Key.F6) return DashboardAction.NextPanel;
        if (key == Key.F6.WithShift) return DashboardAction.PreviousPanel;
        if (key == Key.Q.WithCtrl) return DashboardAction.Quit;
        if (key == Key.Esc) return DashboardAction.Close;
        if (PanelDigit(key) is int alt && key.IsAlt) return Show(alt);
        if (typing || key.IsCtrl || key.IsAlt) return null;
        if (key == Key.Q || key == Key.Q.WithShift) return DashboardAction.Quit;
        if (PanelDigit(key) is int digit) return Show(digit);
        return null;
    }

    /// <summary>The panel an action shows, or null for other actions.</summary>
    public static DashboardPanel? PanelOf(DashboardAction action) => action switch
    {
        DashboardAction.ShowPlugins => DashboardPanel.Plugins,
        DashboardAction.ShowRecipes => DashboardPanel.Recipes,
        DashboardAction.ShowRun => DashboardPanel.Run,
        DashboardAction.ShowAdapters => DashboardPanel.Adapters,
        DashboardAction.ShowPlayground => DashboardPanel.Playground,
        DashboardAction.ShowLog => DashboardPanel.Log,
        DashboardAction.ShowFarm => DashboardPanel.Farm,
        _ => null,
    };

    private static DashboardAction Show(int number) => DashboardAction.ShowPlugins + (number - 1);

    private static int? PanelDigit(Key key)
    {
        var code = key.NoAlt.NoShift.NoCtrl.KeyCode;
        return code is >= KeyCode.D1 and <= KeyCode.D7 ? (int)(code - KeyCode.D0) : null;
    }
}
