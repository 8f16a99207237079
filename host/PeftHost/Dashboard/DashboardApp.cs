using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Cli.Dashboard.Views;
using PeftHost.Core.Telemetry;
using Terminal.Gui.App;

namespace PeftHost.Cli.Dashboard;

/// <summary>
/// <c>peft tui</c>: opens the engine session (bus, job thread, plugins, model), then the Terminal.Gui
/// application on this thread. The UI drains the bus every 100 ms and samples memory every second;
/// it never waits for the job thread.
/// </summary>
public static class DashboardApp
{
    private static readonly TimeSpan PumpInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);

    /// <summary>Runs the dashboard until the user quits; returns the exit code.</summary>
    public static int Run(DashboardOptions options)
    {
        var events = new EventBus();
        using var pump = new EventPump(events);
        using var session = new DashboardSession(options, events);
        var vm = new DashboardViewModel(new RecipesViewModel(session.Recipes, new Recipes.FormPresets(options.PresetsFolder)), session.ModelCommands, session.ModelCommands)
        {
            History = new RunHistoryViewModel(session.Runs.RunsFolder, () => session.Runs.LastOutputFolder),
        };
        vm.Plugins.Seed(session.Plugins.Plugins);

        using (var app = Application.Create().Init())
        {
            DashboardTheme.Apply();
            using var window = new DashboardWindow(app, vm, session);
            app.AddTimeout(PumpInterval, () =>
            {
                window.Pump(pump.Drain());
                return true;
            });
            app.AddTimeout(TickInterval, () =>
            {
                window.Tick();
                return true;
            });
            session.LoadInitialModel();
            app.Run(window);
        }
        return 0;
    }
}
