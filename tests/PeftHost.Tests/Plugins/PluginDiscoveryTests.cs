using System.Text.Json.Nodes;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;
using PeftHost.Sdk;
using Xunit;

namespace PeftHost.Tests.Plugins;

/// <summary>Finding plugin folders, describing plugins, naming methods, and the <c>peft plugins</c> report.</summary>
[Collection(PluginTestCollection.Name)]
public sealed class PluginDiscoveryTests(BuiltPlugins built)
{
    private static PluginHostOptions Only(params string[] roots) =>
        new() { PluginDirectories = roots, IncludeEnvironment = false, IncludeBuiltIn = false, WatchForChanges = false };

    [Fact]
    public void Repository_root_is_found_by_walking_up_to_the_solution()
    {
        string? root = PluginLocations.FindRepositoryRoot();
        Assert.NotNull(root);
        Assert.True(File.Exists(Path.Combine(root, "PeftHost.sln")));
        Assert.Equal(Path.Combine(root, "artifacts", "plugins"), PluginLocations.BuiltInRoot());
        Assert.Null(PluginLocations.FindRepositoryRoot(Path.GetTempPath()));
    }

    [Fact]
    public void Environment_variable_lists_roots_separated_by_the_path_separator()
    {
        char sep = Path.PathSeparator;
        Assert.Equal(["/a", "/b c"], PluginLocations.FromEnvironment($"/a{sep}{sep} /b c {sep}"));
        Assert.Empty(PluginLocations.FromEnvironment(""));
    }

    [Fact]
    public void Roots_come_from_options_environment_and_built_in_in_that_order()
    {
        string old = Environment.GetEnvironmentVariable(PluginLocations.EnvironmentVariable) ?? "";
        string missing = Path.Combine(built.Workspace, "does-not-exist");
        try
        {
            Environment.SetEnvironmentVariable(PluginLocations.EnvironmentVariable, $"{built.Root}{Path.PathSeparator}{missing}");
            var events = new EventBus();
            var warnings = new List<string>();
            using var _ = events.Subscribe<LogEvent>(e => { if (e.Level == LogLevel.Warning) warnings.Add(e.Message); });
            using var host = new PluginHost(new PluginHostOptions
            {
                PluginDirectories = [built.ChannelScaleFolder],
                BuiltInDirectory = Path.Combine(built.Workspace, "src"),
                WatchForChanges = false,
            }, events);
            Assert.Equal([built.ChannelScaleFolder, built.Root, Path.Combine(built.Workspace, "src")], host.Roots);
            Assert.Contains(warnings, w => w.Contains(missing));
            // ChannelScale is found twice (directly, and under the root); its folder is loaded once.
            Assert.Single(host.Plugins, p => p.Name == "ChannelScale");
        }
        finally
        {
            Environment.SetEnvironmentVariable(PluginLocations.EnvironmentVariable, old.Length == 0 ? null : old);
        }
    }

    [Fact]
    public void A_missing_plugins_folder_is_an_error_naming_it()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => new PluginHost(Only("/no/such/folder")));
        Assert.Contains("--plugins /no/such/folder", e.Message);
    }

    [Fact]
    public void Plugin_info_describes_assembly_versions_state_and_exports()
    {
        var events = new EventBus();
        var loaded = new List<PluginLoadedEvent>();
        using var _ = events.Subscribe<PluginLoadedEvent>(loaded.Add);
        using var host = new PluginHost(Only(built.ChannelScaleFolder), events);

        var info = Assert.Single(host.Plugins);
        Assert.Equal("ChannelScale", info.Name);
        Assert.Equal(Path.Combine(built.ChannelScaleFolder, "ChannelScale.dll"), info.AssemblyPath);
        Assert.Equal("1.0.0", info.Version);
        Assert.Equal(SdkVersion.Current.Major, info.SdkVersion!.Major);
        Assert.Equal(PluginState.Loaded, info.State);
        Assert.Null(info.FailureReason);
        Assert.True(info.LoadTimeMs > 0);
        Assert.Equal(1, info.Generation);
        var export = Assert.Single(info.Methods);
        Assert.Equal(("channel_scale", "CHANNEL_SCALE", "ChannelScale.ChannelScaleMethod"), (export.Name, export.PeftType, export.TypeName));
        Assert.Empty(info.Quantizers);
        Assert.Equal("ChannelScale", Assert.Single(loaded).Plugin.Name);
        Assert.Equal(["channel_scale"], host.MethodNames);
    }

    [Fact]
    public void Unknown_method_names_list_the_available_ones_with_a_did_you_mean()
    {
        using var host = new PluginHost(Only(built.ChannelScaleFolder));
        var e = Assert.Throws<PluginException>(() => host.GetMethod("chanel_scale"));
        Assert.Contains("unknown method 'chanel_scale'; did you mean 'channel_scale'?", e.Message);
        Assert.Contains("Available: channel_scale", e.Message);
        Assert.Equal("channel_scale", host.GetMethod("Channel_Scale").Name);
        Assert.Equal("channel_scale", host.FindMethodByPeftType("CHANNEL_SCALE")!.Name);
        Assert.Null(host.FindQuantizer("nf4"));
        Assert.Contains("no quantizer plugins are loaded", Assert.Throws<PluginException>(() => host.GetQuantizer("nf4")).Message);
    }

    [Fact]
    public void Report_lists_methods_and_failed_plugins_as_table_and_json()
    {
        using var host = new PluginHost(Only(built.Root));
        var rows = PluginReport.Rows(host.Plugins);

        var json = PluginReport.ToJson(rows);
        var channel = json.OfType<JsonObject>().Single(o => (string?)o["name"] == "channel_scale");
        Assert.Equal("CHANNEL_SCALE", (string?)channel["peftType"]);
        Assert.Equal("ChannelScale.dll", (string?)channel["assembly"]);
        Assert.Equal("1.0.0", (string?)channel["version"]);
        Assert.Equal(PluginInfo.FormatVersion(SdkVersion.Current), (string?)channel["sdkVersion"]);
        Assert.Equal("Loaded", (string?)channel["state"]);
        Assert.Null(channel["reason"]);
        Assert.True((double)channel["loadTimeMs"]! > 0);
        var future = json.OfType<JsonObject>().Single(o => (string?)o["name"] == "FutureSdk");
        Assert.Equal("Failed", (string?)future["state"]);
        Assert.Equal("2.0.0", (string?)future["sdkVersion"]);
        Assert.Contains("major versions must match", (string?)future["reason"]);

        string table = PluginReport.FormatTable(rows, host.Roots);
        Assert.Matches(@"channel_scale\s+method\s+CHANNEL_SCALE\s+ChannelScale\.dll\s+1\.0\.0\s+1\.9\.0\s+Loaded", table);
        Assert.Matches(@"FutureSdk\s+plugin\s+-\s+FutureSdk\.dll\s+1\.0\.0\s+2\.0\.0\s+Failed \[\d\]", table);
        Assert.Contains("built for PeftHost.Sdk 2.0.0, host has 1.9.0 (major versions must match)", table);
        Assert.Contains($"plugin folders: {built.Root}", table);
    }
}
