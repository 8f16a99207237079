using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;

namespace PeftHost.Tests.Plugins;

/// <summary>
/// A rebuild that overwrites a plugin's dll while the host is loading it (the race a watcher meets when a build writes
/// its files in bursts). The host reads the dll once for its facts (version, hash) and the load context reads it again:
/// served as it was, one build's version would go out with another build's code. Here the race is forced, not hoped
/// for: the first rebuild's method constructor holds the load until the test has copied a second build over it.
/// </summary>
[Collection(PluginTestCollection.Name)]
public sealed class ReloadRaceTests(HotReloadBuild build) : IClassFixture<HotReloadBuild>
{
    [Fact]
    public async Task A_dll_overwritten_while_it_loads_is_deferred_and_the_build_that_settles_is_served()
    {
        string root = build.CopyPristineToNewRoot(); // ChannelScale 1.0.0
        string held = Path.Combine(build.Workspace, "held-" + Guid.NewGuid().ToString("N")[..8]);
        string next = Path.Combine(build.Workspace, "next-" + Guid.NewGuid().ToString("N")[..8]);
        build.Rebuild("1.1.0", gain: 1.0, holdsLoad: true, outRoot: held);
        build.Rebuild("1.2.0", gain: 2.0, outRoot: next);
        string hold = Path.Combine(build.Workspace, "hold-" + Guid.NewGuid().ToString("N")[..8]);
        string servedDll = Path.Combine(root, "ChannelScale", "ChannelScale.dll");

        using var host = new PluginHost(new PluginHostOptions
        {
            PluginDirectories = [root], IncludeEnvironment = false, IncludeBuiltIn = false, WatchForChanges = false,
        }, new EventBus());
        Assert.Equal("1.0.0", Version(host));

        FixturePluginBuilder.CopyTree(Path.Combine(held, "ChannelScale"), Path.Combine(root, "ChannelScale"));
        Environment.SetEnvironmentVariable(HotReloadBuild.HoldVariable, hold);
        try
        {
            host.RequestReload("ChannelScale");
            var reload = Task.Run(host.ApplyPendingReloads);
            // 1.1.0's facts are read and its constructor is running: overwrite the dll with 1.2.0, then let it finish.
            await WaitForFile(hold + ".entered", reload);
            File.Copy(Path.Combine(next, "ChannelScale", "ChannelScale.dll"), servedDll, overwrite: true);
            File.WriteAllText(hold + ".release", "");
            var first = Assert.Single(await reload);
            Assert.Equal(PluginReloadOutcome.Deferred, first.Outcome);
            Assert.Contains("changed while it was being loaded", first.Reason);
            Assert.Equal("1.0.0", Version(host)); // nothing judged, nothing swapped
        }
        finally
        {
            Environment.SetEnvironmentVariable(HotReloadBuild.HoldVariable, null);
        }

        // The watcher reports the settled files again; here the test asks, as the dashboard's reload key does.
        host.RequestReload("ChannelScale");
        var second = Assert.Single(host.ApplyPendingReloads());
        Assert.Equal(PluginReloadOutcome.Reloaded, second.Outcome);
        Assert.Equal("1.2.0", Version(host));
    }

    private static string? Version(PluginHost host) => host.Plugins.Single(p => p.Name == "ChannelScale").Version;

    private static async Task WaitForFile(string path, Task work)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!File.Exists(path))
        {
            if (work.IsCompleted) await work; // it finished (or failed) without reaching the constructor
            Assert.True(work.IsCompleted is false && DateTime.UtcNow < deadline, $"the held build never reached its constructor ({path})");
            await Task.Delay(10);
        }
    }
}
