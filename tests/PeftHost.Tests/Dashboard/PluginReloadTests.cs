using System.Diagnostics;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;
using PeftHost.Tests.Plugins;

namespace PeftHost.Tests.Dashboard;

/// <summary>F9 and rebuilt plugins as the dashboard sees them: reloads applied on the job thread, at step boundaries while a run goes on, shown in the Plugins panel as they happen.</summary>
public sealed class PluginReloadTests(HotReloadBuild build) : IClassFixture<HotReloadBuild>
{
    private sealed class Setup : IDisposable
    {
        public Setup(string root)
        {
            Pump = new EventPump(Events);
            Host = new PluginHost(new PluginHostOptions
            {
                PluginDirectories = [root], IncludeEnvironment = false, IncludeBuiltIn = false, ReloadDelay = TimeSpan.FromMilliseconds(300),
            }, Events);
            Jobs = new JobRunner(Events);
            Commands = new PluginCommands(Jobs, Host, Events);
            Panel.Seed(Host.Plugins);
        }

        public EventBus Events { get; } = new();
        public EventPump Pump { get; }
        public PluginHost Host { get; }
        public JobRunner Jobs { get; }
        public PluginCommands Commands { get; }
        public PluginsViewModel Panel { get; } = new();
        public LogViewModel Log { get; } = new();

        public void Settle()
        {
            Assert.True(Jobs.WaitForIdle(TimeSpan.FromSeconds(60)));
            foreach (var e in Pump.Drain())
            {
                Panel.Apply(e);
                Log.Apply(e);
            }
        }

        public void Dispose()
        {
            Jobs.Dispose();
            Host.Dispose();
            Pump.Dispose();
        }
    }

    [Fact]
    public void F9_when_idle_reloads_on_the_job_thread_and_an_unchanged_plugin_says_so()
    {
        using var s = new Setup(build.CopyPristineToNewRoot());
        var result = s.Commands.Reload();
        Assert.True(result.Started);
        Assert.Equal("reloading plugins…", result.Message);
        s.Settle();
        Assert.Contains(s.Log.Visible, l => l.Message == "ChannelScale: unchanged, nothing to reload");
        Assert.Contains(s.Log.Visible, l => l.Message.StartsWith("plugins job #1 reload plugins succeeded", StringComparison.Ordinal));
        Assert.False(s.Host.HasPendingReloads);
    }

    [Fact]
    public void F9_during_a_run_waits_for_the_step_boundary_hook()
    {
        using var s = new Setup(build.CopyPristineToNewRoot());
        using var gate = new ManualResetEventSlim();
        s.Jobs.TryStart(JobKind.Recipe, "tiny-train.js", _ => gate.Wait(), out _);
        var result = s.Commands.Reload();
        Assert.Equal("plugin reload requested: applied at the next training step boundary", result.Message);
        Assert.True(s.Commands.HasPendingWork);
        gate.Set();
        Assert.True(s.Jobs.WaitForIdle(TimeSpan.FromSeconds(10)));
        s.Commands.ApplyPending(); // what the recipe runner calls at each step boundary
        Assert.False(s.Commands.HasPendingWork);
    }

    [Fact]
    public async Task A_rebuilt_plugin_shows_up_reloaded_with_its_new_version()
    {
        using var s = new Setup(build.Root);
        Assert.Equal("1.0.0", Assert.Single(s.Panel.Rows).Version);
        var rebuild = Task.Run(() => build.Rebuild("2.0.0", gain: 2.0));
        var clock = Stopwatch.StartNew();
        while (s.Panel.Rows[0].Version != "2.0.0")
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "the rebuilt plugin never showed up");
            if (rebuild.IsFaulted) await rebuild; // surface the build log
            s.Commands.TryApplyNow(); // what the dashboard's tick does when idle
            s.Settle();
            await Task.Delay(100);
        }
        await rebuild;
        Assert.Equal("Reloaded ×1", s.Panel.Rows[0].State);
        Assert.StartsWith("plugin ChannelScale reloaded: 1.0.0 → 2.0.0 (generation 2), ", s.Panel.LastChange);
        Assert.Contains(s.Log.Visible, l => l.Message.StartsWith("plugin ChannelScale reloaded", StringComparison.Ordinal));
    }
}
