using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Plugins;
using static PeftHost.Tests.Dashboard.DashboardEvents;

namespace PeftHost.Tests.Dashboard;

/// <summary>The Plugins panel from plugin events: rows with exports, versions, states and reasons; the latest change.</summary>
public sealed class PluginsViewModelTests
{
    [Fact]
    public void Loaded_plugins_become_rows_with_what_they_provide()
    {
        var vm = new PluginsViewModel();
        Assert.True(vm.Apply(new PluginLoadedEvent(Plugin("Lora", version: "0.1.0"))));
        vm.Apply(new PluginLoadedEvent(Plugin("QLora", exports: [Method("qlora"), Quantizer("nf4"), Quantizer("fp4")])));

        Assert.Equal(["Lora", "QLora"], vm.Rows.Select(r => r.Name));
        Assert.Equal("method lora", vm.Rows[0].Provides);
        Assert.Equal("0.1.0", vm.Rows[0].Version);
        Assert.Equal("1.0.0", vm.Rows[0].Sdk);
        Assert.Equal("Loaded", vm.Rows[0].State);
        Assert.Null(vm.Rows[0].Reason);
        Assert.Equal("method qlora; quantizers nf4, fp4", vm.Rows[1].Provides);
        Assert.Equal(0, vm.SelectedIndex);
        Assert.Equal("QLora loaded (method qlora; quantizers nf4, fp4)", vm.LastChange);
    }

    [Fact]
    public void A_failed_plugin_shows_failed_with_its_reason()
    {
        var vm = new PluginsViewModel();
        var broken = Plugin("FutureSdk", PluginState.Failed, reason: "built for SDK 2.0.0; this host has SDK 1.0.0");
        vm.Apply(new PluginFailedEvent(broken, broken.FailureReason!));

        var row = Assert.Single(vm.Rows);
        Assert.True(row.IsFailed);
        Assert.Equal("Failed", row.State);
        Assert.Equal("built for SDK 2.0.0; this host has SDK 1.0.0", row.Reason);
        Assert.Equal("-", row.Provides);
        Assert.Contains("failed: built for SDK 2.0.0", vm.Details().Last());
        Assert.Equal("plugin FutureSdk 1.0.0 failed: built for SDK 2.0.0; this host has SDK 1.0.0", vm.LastChange);
        Assert.Contains("✗ Failed", vm.FormatRows(80)[0]);
    }

    [Fact]
    public void A_reload_updates_the_row_in_place_and_reports_versions_and_timing()
    {
        var vm = new PluginsViewModel();
        vm.Apply(new PluginLoadedEvent(Plugin("Lora", version: "0.1.0")));
        vm.Apply(new PluginLoadedEvent(Plugin("IA3")));
        vm.Apply(new PluginReloadedEvent(Plugin("Lora", PluginState.Reloaded, version: "0.1.1", generation: 2), "0.1.0", 412.4, 35, 1));

        Assert.Equal(2, vm.Rows.Count);
        Assert.Equal("0.1.1", vm.Rows[0].Version);
        Assert.Equal("Reloaded ×1", vm.Rows[0].State);
        Assert.Equal("plugin Lora reloaded: 0.1.0 → 0.1.1 (generation 2), 412 ms from the file change to re-injection, 35 ms of it at the step boundary", vm.LastChange);
    }

    [Fact]
    public void A_refused_reload_keeps_the_plugin_serving_and_says_why()
    {
        var vm = new PluginsViewModel();
        vm.Apply(new PluginLoadedEvent(Plugin("Lora")));
        var still = Plugin("Lora", lastReloadError: "Lora.dll: bad IL format");
        vm.Apply(new PluginFailedEvent(still, "Lora.dll: bad IL format", StillServing: true, AttemptedVersion: "1.1.0"));

        var row = Assert.Single(vm.Rows);
        Assert.False(row.IsFailed);
        Assert.Equal("Loaded", row.State);
        Assert.Equal("Lora.dll: bad IL format", row.Reason);
        Assert.Equal("reload of Lora 1.1.0 refused: Lora.dll: bad IL format; 1.0.0 still serving", vm.LastChange);
        Assert.Contains("last reload refused: Lora.dll: bad IL format", vm.Details());
    }

    [Fact]
    public void Seeding_takes_the_plugins_loaded_before_the_dashboard_subscribed()
    {
        var vm = new PluginsViewModel();
        vm.Seed([Plugin("Lora"), Plugin("Corrupt", PluginState.Failed, version: null, reason: "not a .NET assembly")]);
        Assert.Equal(["Lora", "Corrupt"], vm.Rows.Select(r => r.Name));
        Assert.Equal("?", vm.Rows[1].Version);
        Assert.Null(vm.LastChange);
    }

    [Fact]
    public void Rows_fit_the_width_and_other_events_are_ignored()
    {
        var vm = new PluginsViewModel();
        vm.Apply(new PluginLoadedEvent(Plugin("AVeryLongPluginNameIndeed", exports: [Method("one"), Method("two"), Method("three"), Quantizer("q4")])));
        Assert.False(vm.Apply(new PeftHost.Core.Telemetry.LogEvent(PeftHost.Core.Telemetry.LogLevel.Info, "x", "y")));
        Assert.All(vm.FormatRows(60), line => Assert.Equal(60, line.Length));
        Assert.Equal(60, PluginsViewModel.Header(60).Length);
    }
}
