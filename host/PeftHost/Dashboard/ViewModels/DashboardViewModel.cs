using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>
/// The whole dashboard's state, independent of rendering: the seven panels' view-models, which panel
/// shows, what job runs, the last status message. Events from the bus go in through
/// <see cref="Apply"/>; the views read the state and redraw what changed.
/// </summary>
public sealed class DashboardViewModel
{
    /// <summary>Builds the panels' view-models.</summary>
    public DashboardViewModel(RecipesViewModel recipes, IAdapterCommands adapters, IPlaygroundCommands playground)
    {
        Recipes = recipes;
        Adapters = new AdaptersViewModel(adapters);
        Playground = new PlaygroundViewModel(playground);
    }

    /// <summary>The Plugins panel.</summary>
    public PluginsViewModel Plugins { get; } = new();

    /// <summary>The Recipes panel.</summary>
    public RecipesViewModel Recipes { get; }

    /// <summary>The Run panel.</summary>
    public RunViewModel Run { get; } = new();

    /// <summary>The Run panel's history of runs (<c>h</c>); null when there is no runs folder to read.</summary>
    public RunHistoryViewModel? History { get; init; }

    /// <summary>The Adapters panel.</summary>
    public AdaptersViewModel Adapters { get; }

    /// <summary>The Playground panel.</summary>
    public PlaygroundViewModel Playground { get; }

    /// <summary>The Log panel.</summary>
    public LogViewModel Log { get; } = new();

    /// <summary>The Farm panel: polls the farm the dashboard is a client of (none: it says how to connect).</summary>
    public FarmViewModel Farm { get; init; } = new(null);

    /// <summary>The panel on screen.</summary>
    public DashboardPanel Current { get; set; } = DashboardPanel.Recipes;

    /// <summary>True while the help overlay shows.</summary>
    public bool HelpVisible { get; set; }

    /// <summary>The running job's name (<c>tiny-train.js</c>, <c>generate</c>), or null when idle.</summary>
    public string? RunningJob { get; private set; }

    /// <summary>The last status message (a command's result, a job's end).</summary>
    public string Status { get; set; } = "F1 help · F5 run the selected recipe · F6 next panel · q quit";

    /// <summary>Applies <paramref name="e"/> to every panel; returns the panels whose state changed.</summary>
    public IReadOnlySet<DashboardPanel> Apply(IHostEvent e)
    {
        var changed = new HashSet<DashboardPanel>();
        if (Plugins.Apply(e)) changed.Add(DashboardPanel.Plugins);
        if (Run.Apply(e)) changed.Add(DashboardPanel.Run);
        if (History?.Apply(e) == true) changed.Add(DashboardPanel.Run);
        if (Adapters.Apply(e)) changed.Add(DashboardPanel.Adapters);
        if (Playground.Apply(e)) changed.Add(DashboardPanel.Playground);
        if (Log.Apply(e)) changed.Add(DashboardPanel.Log);
        switch (e)
        {
            case JobStartedEvent started:
                RunningJob = started.Name;
                break;
            case JobFinishedEvent finished:
                RunningJob = null;
                Status = OutcomeText(finished);
                break;
            case PluginFailedEvent or PluginReloadedEvent when Plugins.LastChange is { } change:
                Status = change;
                break;
        }
        return changed;
    }

    /// <summary>
    /// A job's end for the status line, outcome first so a long job name (a folder path) cannot push
    /// it off an 80-column screen: <c>✓ succeeded: load adapter /tmp/a</c>,
    /// <c>✗ failed: no adapter_config.json in /tmp/a (load adapter /tmp/a)</c>. The Log keeps it whole.
    /// </summary>
    public static string OutcomeText(JobFinishedEvent finished) => finished.Outcome switch
    {
        JobOutcome.Succeeded => $"✓ succeeded: {finished.Name}" + (finished.Message is null ? "" : $" — {finished.Message}"),
        JobOutcome.Cancelled => $"■ cancelled: {finished.Name}" + (finished.Message is null ? "" : $" — {finished.Message}"),
        _ => $"✗ failed: {finished.Message ?? "no reason given"} ({finished.Name})",
    };

    /// <summary>Moves to the next (or previous) panel.</summary>
    public void Cycle(int direction)
    {
        int count = Enum.GetValues<DashboardPanel>().Length;
        Current = (DashboardPanel)(((int)Current + direction + count) % count);
    }

    /// <summary>The tab titles with their numbers: <c>1 Plugins</c>…</summary>
    public static IReadOnlyList<string> TabTitles { get; } =
        Enum.GetValues<DashboardPanel>().Select((p, i) => $"{i + 1} {p}").ToList();
}
