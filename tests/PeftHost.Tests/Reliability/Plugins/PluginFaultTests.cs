using System.Diagnostics;
using System.Text.Json.Nodes;
using PeftHost.Core.Data;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using PeftHost.Tests.Plugins;
using static TorchSharp.torch;

namespace PeftHost.Tests.Reliability.Plugins;

/// <summary>
/// Plugins that fail in every way a plugin can — a missing dependency, a throwing static
/// constructor, an Inject that never returns, an adapter born with NaN, a method whose second call
/// throws — through the production path (a <see cref="PeftModel"/> whose method catalog is the
/// plugin host). The host must survive, keep serving the good plugins, and say which plugin failed
/// and why; the model must be left as it was.
/// </summary>
[Collection(ReliabilityPluginCollection.Name)]
public sealed class PluginFaultTests(ReliabilityPlugins built)
{
    private static readonly JsonObject ChannelScaleOptions = new() { ["targetModules"] = new JsonArray("q_proj", "v_proj") };

    private (PluginHost Host, EventBus Events, List<PluginFailedEvent> Failures) NewHost(TimeSpan? callTimeout = null)
    {
        var events = new EventBus();
        var failures = new List<PluginFailedEvent>();
        events.Subscribe<PluginFailedEvent>(e => { lock (failures) failures.Add(e); });
        var host = new PluginHost(new PluginHostOptions
        {
            PluginDirectories = [built.Root], IncludeEnvironment = false, IncludeBuiltIn = false, WatchForChanges = false, CallTimeout = callTimeout,
        }, events);
        return (host, events, failures);
    }

    /// <summary>The model still trains with a good plugin's adapter: the host survived.</summary>
    private static void AssertStillTrains(PeftModel peft)
    {
        peft.AddAdapter("channel_scale", (JsonObject)ChannelScaleOptions.DeepClone(), "survivor");
        var result = new Trainer(peft.Base, peft.TrainableParameters(), new TrainingOptions { MaxSteps = 2, BatchSize = 2, LearningRate = 1e-2, LogEvery = 1 })
            .Train(Data());
        Assert.Equal(TrainingStopReason.Completed, result.Reason);
        Assert.All(result.Losses, l => Assert.True(double.IsFinite(l)));
    }

    internal static TokenizedDataset Data(int count = 8)
    {
        var rng = new Random(11);
        return new TokenizedDataset(Enumerable.Range(0, count)
            .Select(_ => TokenizedExample.FullySupervised(Enumerable.Range(0, 12).Select(_ => rng.Next(3, 64)).ToArray())).ToArray(), "random tokens");
    }

    private static Tensor Logits(CausalLanguageModel model)
    {
        using var _ = no_grad();
        using var ids = TinyModel.Batch();
        return model.Forward(ids);
    }

    [Theory]
    [InlineData("MissingDependency", "type discovery failed: a dependency is missing: Could not load file or assembly 'MissingDependencyHelper")]
    [InlineData("StaticCtorThrows", "its static constructor threw: static init exploded")]
    public void A_plugin_that_cannot_load_is_Failed_with_its_reason_and_the_rest_work(string plugin, string reason)
    {
        var (host, _, failures) = NewHost();
        using var _ = host;
        var info = host.Plugins.Single(p => p.Name == plugin);
        Assert.Equal(PluginState.Failed, info.State);
        Assert.Contains(reason, info.FailureReason);
        Assert.Contains(failures, f => f.Plugin.Name == plugin && f.Reason == info.FailureReason);
        Assert.All(host.Plugins.Where(p => p.Name is "ChannelScale" or "HangsInInject" or "Unstable"), p => Assert.Equal(PluginState.Loaded, p.State));

        using var model = TinyModel.Create();
        AssertStillTrains(new PeftModel(model, host));
        ReliabilityLog.Record("plugins", $"{plugin}: Failed at load (\"{info.FailureReason}\"); other plugins Loaded, a training run with ChannelScale completes");
    }

    [Fact]
    public void A_plugin_that_hangs_in_Inject_is_given_up_on_after_the_timeout_marked_Failed_and_named()
    {
        var (host, _, failures) = NewHost(callTimeout: TimeSpan.FromSeconds(1));
        using var _ = host;
        using var model = TinyModel.Create();
        var peft = new PeftModel(model, host);
        using var before = Logits(model);

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<PluginException>(() => peft.AddAdapter("hangs_in_inject", new JsonObject { ["hangSeconds"] = 30 }));
        var waited = clock.Elapsed;
        Assert.Equal("HangsInInject", e.PluginName);
        Assert.StartsWith("plugin 'HangsInInject' failed in hangs_in_inject.Inject: it did not return within 1 s", e.Message);
        Assert.InRange(waited, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));

        var info = host.Plugins.Single(p => p.Name == "HangsInInject");
        Assert.Equal(PluginState.Failed, info.State);
        Assert.Equal("hangs_in_inject.Inject did not return within 1 s (abandoned)", info.FailureReason);
        Assert.Contains(failures, f => f.Plugin.Name == "HangsInInject");
        var refused = Assert.Throws<PluginException>(() => host.GetMethod("hangs_in_inject"));
        Assert.Contains("plugin 'HangsInInject' failed: hangs_in_inject.Inject did not return within 1 s", refused.Message);

        Assert.Empty(peft.Adapters);
        using (var after = Logits(model)) Assert.True(PeftHost.Tests.Support.TensorAssert.Identical(after, before), "the abandoned call changed the model");
        AssertStillTrains(peft);
        ReliabilityLog.Record("plugins", $"HangsInInject: Inject blocked; PluginException after {waited.TotalSeconds:F1} s (CallTimeout 1 s), plugin Failed (\"{info.FailureReason}\"), model unchanged, training with another plugin goes on");
    }

    [Fact]
    public void A_time_limit_can_be_given_per_call()
    {
        var (host, _, _) = NewHost();
        using var _ = host;
        var method = host.GetMethod("hangs_in_inject");
        using var model = TinyModel.Create();
        var surface = new ModelSurface(model);
        var config = method.BindConfig(PeftHost.Sdk.ConfigSource.FromOptions(new JsonObject { ["hangSeconds"] = 30 }));
        var e = Assert.Throws<PluginException>(() => host.InvokeGuarded(method, "hangs_in_inject.Inject", () => method.Inject(surface, "x", config), TimeSpan.FromMilliseconds(300)));
        Assert.Contains("did not return within 0.3 s", e.Message);
        // Without a limit the same host waits for a call that returns: a quick one is unaffected.
        Assert.Equal(42, host.InvokeGuarded(method, "quick", () => 42));
    }

    [Fact]
    public void A_plugin_whose_adapter_is_born_with_NaN_is_refused_naming_the_plugin_and_parameter()
    {
        var (host, _, failures) = NewHost();
        using var _ = host;
        using var model = TinyModel.Create();
        var peft = new PeftModel(model, host);
        using var before = Logits(model);

        var e = Assert.Throws<PluginException>(() => peft.AddAdapter("nan_scale", new JsonObject()));
        Assert.Equal("Unstable", e.PluginName);
        Assert.Contains("plugin 'Unstable' failed in nan_scale.Inject: nan_scale.Inject made adapter 'default' whose parameter " +
                        "'base_model.model.model.layers.0.self_attn.q_proj.scale' holds 32 NaN or infinite values, the first at [0]", e.Message);
        Assert.Equal(PluginState.Failed, host.Plugins.Single(p => p.Name == "Unstable").State);
        Assert.Contains(failures, f => f.Plugin.Name == "Unstable");

        // The half-made adapter was removed again: the model computes what it did before.
        Assert.Empty(peft.Adapters);
        Assert.DoesNotContain(model.named_modules(), m => m.name.EndsWith(".base_layer", StringComparison.Ordinal));
        using (var after = Logits(model)) Assert.True(PeftHost.Tests.Support.TensorAssert.Identical(after, before));
        AssertStillTrains(peft);
        ReliabilityLog.Record("plugins", "Unstable nan_scale: adapter born with NaN refused at injection (PluginException naming plugin, method and parameter), plugin Failed, model restored");
    }

    [Fact]
    public void A_plugin_that_throws_on_its_second_call_is_Failed_and_its_first_adapter_keeps_working()
    {
        var (host, _, _) = NewHost();
        using var _ = host;
        using var model = TinyModel.Create();
        var peft = new PeftModel(model, host);
        peft.AddAdapter("second_call_throws", new JsonObject(), "first");

        var e = Assert.Throws<PluginException>(() => peft.AddAdapter("second_call_throws", new JsonObject(), "second"));
        Assert.Equal("Unstable", e.PluginName);
        Assert.Contains("plugin 'Unstable' failed in second_call_throws.Inject: internal state corrupted after 1 call(s)", e.Message);
        Assert.Equal(PluginState.Failed, host.Plugins.Single(p => p.Name == "Unstable").State);
        Assert.Contains("method 'second_call_throws' is unavailable: plugin 'Unstable' failed: second_call_throws.Inject threw:",
            Assert.Throws<PluginException>(() => host.GetMethod("second_call_throws")).Message);

        Assert.Equal(["first"], peft.Adapters.Select(a => a.Name));
        using var logits = Logits(model);
        Assert.True(logits.isfinite().all().item<bool>());
        AssertStillTrains(peft);
        ReliabilityLog.Record("plugins", "Unstable second_call_throws: second Inject threw; PluginException naming plugin and call, plugin Failed, the first adapter keeps working, training goes on");
    }
}
