using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Cli.Dashboard.Views;
using PeftHost.Core.Telemetry;
using PeftHost.Farm;
using Terminal.Gui.App;

namespace PeftHost.Cli.Dashboard;

/// <summary>
/// <c>peft tui</c>: opens the engine session (bus, job thread, plugins, model), then the Terminal.Gui
/// application on this thread. The UI drains the bus every 100 ms and samples memory every second;
/// it never waits for the job thread. With <c>--cluster</c> it first connects to the farm as an Orleans client (an
/// unreachable farm is an error before the screen opens), and the Farm panel's model polls the farm's queue off the UI thread.
/// </summary>
public static class DashboardApp
{
    private static readonly TimeSpan PumpInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);

    /// <summary>Runs the dashboard until the user quits; returns the exit code.</summary>
    public static int Run(DashboardOptions options)
    {
        var farm = ConnectFarm(options);
        try { return Run(options, farm); }
        finally { farm?.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    /// <summary>The farm client for <c>--cluster</c>, or null without one.</summary>
    /// <exception cref="IOException">No silo of the farm answered.</exception>
    private static FarmClient? ConnectFarm(DashboardOptions options)
    {
        if (options.Cluster is not { } cluster) return null;
        string key = options.ClusterKey ?? throw new ArgumentException($"a cluster needs its key: --cluster-key KEY or {ClusterAddress.KeyVariable}");
        Console.Error.WriteLine($"connecting to the farm at redis://{cluster.Host}:{cluster.Port}…");
        return FarmClient.ConnectAsync(cluster, key, options.Tls, FarmClient.DefaultConnectTimeout).GetAwaiter().GetResult();
    }

    private static int Run(DashboardOptions options, FarmClient? farm)
    {
        var events = new EventBus();
        using var pump = new EventPump(events);
        using var session = new DashboardSession(options, events);
        var vm = new DashboardViewModel(new RecipesViewModel(session.Recipes, new Recipes.FormPresets(options.PresetsFolder)), session.ModelCommands, session.ModelCommands)
        {
            History = new RunHistoryViewModel(session.Runs.RunsFolder, () => session.Runs.LastOutputFolder),
            Farm = new FarmViewModel(farm?.Grains, options.Cluster is { } c ? $"redis://{c.Host}:{c.Port}" : null),
        };
        using var stopPolling = new CancellationTokenSource();
        var polling = vm.Farm.PollUntil(stopPolling.Token);
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
        stopPolling.Cancel();
        polling.GetAwaiter().GetResult();
        return 0;
    }
}
