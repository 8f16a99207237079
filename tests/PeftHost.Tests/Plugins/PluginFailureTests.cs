using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;
using PeftHost.Sdk;
using Xunit;

namespace PeftHost.Tests.Plugins;

/// <summary>Broken plugins fail alone, with a reason; the host and the good plugin beside them carry on.</summary>
[Collection(PluginTestCollection.Name)]
public sealed class PluginFailureTests(BuiltPlugins built)
{
    private PluginHost NewHost(EventBus? events = null) => new(new PluginHostOptions
    {
        PluginDirectories = [built.Root], IncludeEnvironment = false, IncludeBuiltIn = false, WatchForChanges = false,
    }, events);

    [Theory]
    [InlineData("Corrupt", "Corrupt.dll is not a valid .NET assembly")]
    [InlineData("NoDll", "NoDll.dll not found in ")]
    [InlineData("MissingDependency", "type discovery failed: a dependency is missing: Could not load file or assembly 'MissingDependencyHelper")]
    [InlineData("StaticCtorThrows", "creating StaticCtorThrows.ExplodingMethod failed: its static constructor threw: static init exploded")]
    [InlineData("FutureSdk", "built for PeftHost.Sdk 2.0.0, host has 1.9.0 (major versions must match)")]
    public void A_broken_plugin_is_Failed_with_its_reason_while_the_good_one_stays_Loaded(string plugin, string reason)
    {
        var events = new EventBus();
        var failed = new List<PluginFailedEvent>();
        using var _ = events.Subscribe<PluginFailedEvent>(failed.Add);
        using var host = NewHost(events);

        var info = host.Plugins.Single(p => p.Name == plugin);
        Assert.Equal(PluginState.Failed, info.State);
        Assert.Contains(reason, info.FailureReason);
        Assert.Contains(failed, e => e.Plugin.Name == plugin && e.Reason == info.FailureReason);

        Assert.Equal(PluginState.Loaded, host.Plugins.Single(p => p.Name == "ChannelScale").State);
        Assert.Equal(PluginState.Loaded, host.Plugins.Single(p => p.Name == "InjectThrows").State);
        Assert.Equal(["channel_scale", "inject_throws"], host.MethodNames);
    }

    [Fact]
    public void A_throwing_Inject_marks_its_plugin_Failed_and_names_it_while_others_work()
    {
        var events = new EventBus();
        var failed = new List<PluginFailedEvent>();
        using var _ = events.Subscribe<PluginFailedEvent>(failed.Add);
        using var host = NewHost(events);
        using var model = TinyModel.Create();
        var peft = new PeftModel(model, host, events);

        var e = Assert.Throws<PluginException>(() => peft.AddAdapter("inject_throws", new JsonObject()));
        Assert.Equal("InjectThrows", e.PluginName);
        Assert.Contains("plugin 'InjectThrows' failed in inject_throws.Inject: inject exploded", e.Message);
        Assert.IsType<InvalidOperationException>(e.InnerException);

        var info = host.Plugins.Single(p => p.Name == "InjectThrows");
        Assert.Equal(PluginState.Failed, info.State);
        Assert.Contains("inject_throws.Inject threw: inject exploded", info.FailureReason);
        Assert.Contains(failed, f => f.Plugin.Name == "InjectThrows");

        var refused = Assert.Throws<PluginException>(() => host.GetMethod("inject_throws"));
        Assert.Contains("method 'inject_throws' is unavailable: plugin 'InjectThrows' failed: inject_throws.Inject threw", refused.Message);
        Assert.Equal(["channel_scale"], host.MethodNames);

        peft.AddAdapter("channel_scale", new JsonObject());
        Assert.Equal(4, peft["default"].Adapter.GetState().Count);
    }

    [Fact]
    public void GetPeftModel_with_a_method_no_plugin_serves_lists_the_plugins_that_failed_to_load_and_why()
    {
        using var h = new Recipes.RecipeHarness();
        var run = h.Run("recipe.js", """
            import { loadModel, getPeftModel } from "peft";
            getPeftModel(loadModel("models/stories260k"), { method: "out_bias" });
            """, "--plugins", built.Root);

        Assert.True(run.Code == 1, $"exit {run.Code}\n{run.Out}\n{run.Err}");
        string first = PeftHost.Tests.Recipes.RecipeAssert.FailureLine(run.Err);
        foreach (var expected in new[]
                 {
                     "unknown method 'out_bias'", "Available: ", "channel_scale, ", "inject_throws, ",
                     // Its plugin may be one that failed before its methods were known: each one is named, with its reason.
                     "Plugins that failed to load: ",
                     "MissingDependency (type discovery failed: a dependency is missing: Could not load file or assembly 'MissingDependencyHelper",
                     "StaticCtorThrows (creating StaticCtorThrows.ExplodingMethod failed: its static constructor threw: static init exploded)",
                     "FutureSdk (built for PeftHost.Sdk 2.0.0, host has 1.9.0 (major versions must match))",
                 })
            Assert.True(first.Contains(expected, StringComparison.Ordinal), $"'{expected}' not in the error's first line:\n{run.Err}");
        Assert.Contains("The system cannot find the file specified.); NoDll (", first); // one line, even where the runtime's message ends in a newline
    }

    [Fact]
    public void Contexts_of_failed_load_attempts_are_unloaded_and_collected()
    {
        using (var host = NewHost())
        {
            // MissingDependency and StaticCtorThrows got as far as a load context before failing.
            Assert.True(host.RetiredContexts.Count >= 2, $"retired: {host.RetiredContexts.Count}");
            Assert.True(host.WaitForRetiredContextsToUnload(TimeSpan.FromSeconds(10)), "a failed plugin's context is still alive");
        }
    }
}
