using System.Text.RegularExpressions;
using PeftHost.Tests.Farm;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard.EndToEnd;

/// <summary>
/// The Farm panel in a real terminal (tmux, 80×24) against a real farm: Redis, one <c>peft farm</c> silo and
/// <c>peft tui --cluster</c> as its client. A sweep submitted by <c>peft sweep --cluster</c> shows in the panel: the
/// silo with its slots and memory, the jobs queued, running with step and loss, then succeeded.
/// </summary>
public sealed class FarmPanelEndToEndTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(240);
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [SkippableFact]
    public void The_farm_panel_shows_the_silo_and_a_sweeps_jobs_running_with_step_and_loss_then_succeeded_at_80x24()
    {
        Skip.If(Tmux.Unavailable is not null, Tmux.Unavailable);
        Skip.IfNot(File.Exists(FarmCluster.RedisServer), $"{FarmCluster.RedisServer} is missing (.ci/run installs redis-server)");
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        using var farm = new FarmCluster();
        farm.StartSilos(1, TimeSpan.FromSeconds(90));
        int siloPid = farm.Silos[0].Id;

        string peft = Path.Combine(AppContext.BaseDirectory, "peft");
        using var tmux = Tmux.Start($"'{peft}' tui --no-model --workspace '{TestPaths.RepoRoot}' --recipes '{_h.Folder}' --runs '{_h.Folder}/runs' --cluster {farm.Address} --cluster-key {farm.Key}",
            80, 24, _h.Folder);
        tmux.WaitForText("tune.js", StartTimeout); // the dashboard opened (its recipes list: the harness folder)
        tmux.SendKeys("7");
        tmux.WaitFor(s => s.Contains("┤Farm├", StringComparison.Ordinal) && s.Contains($":{siloPid} ", StringComparison.Ordinal), StartTimeout, "the Farm panel with the silo");

        using var sweep = PeftProcess.Start(["sweep", recipe, "--grid", "r=4,8", "--set", "steps=12", "--set", "stepMs=700", "--out", Path.Combine(_h.Folder, "sweep"),
            "--workspace", TestPaths.RepoRoot, "--shared-storage", "--cluster", farm.Address, "--cluster-key", farm.Key], FarmCluster.OneThread);
        // One slot: r=4 trains while r=8 waits; from its second progress report on, r=4 has an ETA.
        string running = tmux.WaitFor(s => Regex.IsMatch(s, @"r=4 +running +\S+ +([2-9]|1[01])/12 +\d\.\d{4} +0:00:\d\d 1") && Regex.IsMatch(s, @"r=8 +queued"), RunTimeout,
            "r=4 running with its step, loss and ETA, r=8 queued");
        var screen = tmux.CaptureSettledScreen(out string raw);
        DashboardScreens.AssertLayout(screen, "Farm");
        DashboardScreens.Save("farm", screen, raw, Path.Combine(_h.Folder, "screens"));
        Assert.Contains("SILO", running);
        Assert.Matches($@":{siloPid} +1/1 +\d+% +[\d.]+ [KMG]iB", running);

        string done = tmux.WaitFor(s => Regex.Matches(s, @"r=[48] +succeeded +\S+ +12/12 +\d\.\d{4} +0:00:\d\d 1").Count == 2, RunTimeout, "both jobs succeeded");
        Assert.Contains("2 succeeded", done);
        Assert.Contains("1 silo(s) · jobs: 0 queued, 0 running, 2 succeeded, 0 failed", done);
        Assert.Equal(0, sweep.WaitForExit(TimeSpan.FromSeconds(60)));
        DashboardScreens.AssertLayout(tmux.CaptureScreen(out _), "Farm");
        tmux.SendKeys("q");
        tmux.WaitForText("[exited 0]", TimeSpan.FromSeconds(30));
    }
}
