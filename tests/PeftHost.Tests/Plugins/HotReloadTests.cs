using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Plugins;

/// <summary>Game-style hot reload: a rebuilt plugin swaps in at a step boundary while training runs.</summary>
[Collection(PluginTestCollection.Name)]
public sealed class HotReloadTests(HotReloadBuild build, ITestOutputHelper output) : IClassFixture<HotReloadBuild>
{
    private const string QProj = "model.layers.0.self_attn.q_proj";
    private static readonly TimeSpan ReloadDelay = TimeSpan.FromMilliseconds(300);

    private static PluginHost NewHost(string root, EventBus events) => new(new PluginHostOptions
    {
        PluginDirectories = [root], IncludeEnvironment = false, IncludeBuiltIn = false, ReloadDelay = ReloadDelay,
    }, events);

    private static JsonObject Targets() => new() { ["targetModules"] = new JsonArray("q_proj", "v_proj", "down_proj") };

    [Fact]
    public async Task Rebuilt_plugin_is_swapped_in_at_a_step_boundary_keeping_weights_and_training()
    {
        var events = new EventBus();
        var reloaded = new List<PluginReloadedEvent>();
        using var subscription = events.Subscribe<PluginReloadedEvent>(reloaded.Add);
        using var host = NewHost(build.Root, events);
        using var model = TinyModel.Create();
        using var ids = TinyModel.Batch();
        var peft = new PeftModel(model, host, events);
        var surface = peft.Surface;
        using var participant = host.RegisterReloadParticipant(peft);
        peft.AddAdapter("channel_scale", Targets());
        using var trainer = new TinyTrainer(model, peft, ids);

        var before = new List<float>();
        for (int i = 0; i < 5; i++) before.Add(trainer.Step());
        Assert.True(before[^1] < before[0], $"v1 training should lower the loss: {string.Join(", ", before)}");
        AssertLayerComputes(surface, gain: 1.0, version: "1.0.0");
        Assert.False(host.HasPendingReloads);

        // Rebuild v2 in the background while training goes on; apply at the first step boundary after it lands.
        var rebuild = Task.Run(() => build.Rebuild("2.0.0", gain: 2.0));
        Dictionary<string, Tensor>? atBoundary = null;
        PluginReloadResult? result = null;
        var deadline = Stopwatch.StartNew();
        int stepsDuringBuild = 0;
        while (result is null)
        {
            if (rebuild.IsFaulted) await rebuild; // surface the build log
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(3), "the rebuilt plugin was never picked up");
            trainer.Step();
            stepsDuringBuild++;
            Dispose(atBoundary);
            atBoundary = Snapshot(peft);
            // A build writes deps.json, dll and pdb at different moments: an early reload may find
            // the dll unchanged (Unchanged) or still being written (Refused); the next change retries.
            var results = host.ApplyPendingReloads();
            Assert.DoesNotContain(results, r => r.Outcome == PluginReloadOutcome.Failed);
            result = results.SingleOrDefault(r => r.Outcome == PluginReloadOutcome.Reloaded);
            if (result is null) Thread.Sleep(25);
        }
        var rebuildTime = await rebuild;
        Assert.Equal(PluginReloadOutcome.Reloaded, result.Outcome);

        // The adapter's weights survived the swap bit for bit.
        var afterSwap = Snapshot(peft);
        Assert.Equal(atBoundary!.Keys.Order(), afterSwap.Keys.Order());
        foreach (var (key, value) in atBoundary)
            Assert.True(BitEqual(value, afterSwap[key]), $"{key} changed across the reload");
        Assert.Contains(atBoundary.Values, v => v.data<float>().ToArray().Any(f => f != 1f)); // they had trained away from 1

        // The new build's code runs, and training continues with it.
        AssertLayerComputes(surface, gain: 2.0, version: "2.0.0");
        var info = Assert.Single(host.Plugins);
        Assert.Equal((PluginState.Reloaded, "2.0.0", 2), (info.State, info.Version, info.Generation));
        trainer.Rebind();
        var after = new List<float>();
        for (int i = 0; i < 5; i++) after.Add(trainer.Step());
        Assert.All(after, l => Assert.True(float.IsFinite(l)));
        var trained = Snapshot(peft);
        Assert.Contains(trained.Keys, k => !BitEqual(trained[k], afterSwap[k]));

        var e = Assert.Single(reloaded);
        Assert.Equal(["default"], peft.Adapters.Select(a => a.Name));
        Assert.Equal("default", peft.ActiveAdapter);
        Assert.Equal("1.0.0", e.PreviousVersion);
        Assert.Equal(1, e.Reattached);
        Assert.True(e.ChangeToReinjectMs >= ReloadDelay.TotalMilliseconds);

        // Nothing keeps the first build alive.
        var unload = Stopwatch.StartNew();
        Assert.True(host.WaitForRetiredContextsToUnload(TimeSpan.FromSeconds(15)), "the old load context was not collected");
        output.WriteLine($"first build {build.FirstBuildTime.TotalSeconds:F1} s, rebuild {rebuildTime.TotalSeconds:F1} s, {stepsDuringBuild} steps trained meanwhile");
        output.WriteLine($"file change -> adapters re-injected: {e.ChangeToReinjectMs:F1} ms (reload delay {ReloadDelay.TotalMilliseconds} ms + wait for the step boundary + swap)");
        output.WriteLine($"swap at the step boundary (load v2, detach, unload v1, re-inject, load state): {e.ApplyMs:F1} ms; v2 load alone {info.LoadTimeMs:F1} ms");
        output.WriteLine($"old context collected after {unload.Elapsed.TotalMilliseconds:F0} ms of GC; loss v1 {before[0]:F4} -> {before[^1]:F4}, v2 {after[0]:F4} -> {after[^1]:F4}");
        Dispose(atBoundary, afterSwap, trained);
    }

    [Fact]
    public void A_broken_rebuild_is_refused_and_the_previous_build_keeps_serving()
    {
        string root = build.CopyPristineToNewRoot();
        string dll = Path.Combine(root, "ChannelScale", "ChannelScale.dll");
        var events = new EventBus();
        var failures = new List<PluginFailedEvent>();
        using var subscription = events.Subscribe<PluginFailedEvent>(failures.Add);
        using var host = NewHost(root, events);
        using var model = TinyModel.Create();
        var reinjections = new List<LogEvent>();
        using var logs = events.Subscribe<LogEvent>(l => { if (l.Message.StartsWith("re-injected", StringComparison.Ordinal)) reinjections.Add(l); });
        var peft = new PeftModel(model, host, events);
        using var participant = host.RegisterReloadParticipant(peft);
        peft.AddAdapter("channel_scale", Targets());

        byte[] good = File.ReadAllBytes(dll);
        File.WriteAllBytes(dll, good[..(good.Length / 3)]); // a build that died half-way through writing
        WaitForPending(host);
        var refused = Assert.Single(host.ApplyPendingReloads());
        Assert.Equal(PluginReloadOutcome.Refused, refused.Outcome);
        Assert.Contains("ChannelScale.dll is not a valid .NET assembly", refused.Reason);
        var info = Assert.Single(host.Plugins);
        Assert.Equal(PluginState.Loaded, info.State);
        Assert.Contains("not a valid .NET assembly", info.LastReloadError);
        Assert.True(Assert.Single(failures).StillServing);
        Assert.Equal("channel_scale", host.GetMethod("channel_scale").Name);
        Assert.Empty(reinjections); // nobody was detached for a build that could not load

        File.WriteAllBytes(dll, good);
        WaitForPending(host);
        Assert.Equal(PluginReloadOutcome.Unchanged, Assert.Single(host.ApplyPendingReloads()).Outcome);
    }

    [Fact]
    public void A_participant_that_cannot_detach_rolls_the_swap_back()
    {
        string root = build.CopyPristineToNewRoot();
        var events = new EventBus();
        using var host = NewHost(root, events);
        using var model = TinyModel.Create();
        var reinjections = new List<LogEvent>();
        using var logs = events.Subscribe<LogEvent>(l => { if (l.Message.StartsWith("re-injected", StringComparison.Ordinal)) reinjections.Add(l); });
        var peft = new PeftModel(model, host, events);
        var surface = peft.Surface;
        using var first = host.RegisterReloadParticipant(peft);
        using var second = host.RegisterReloadParticipant(new FailingParticipant());
        peft.AddAdapter("channel_scale", Targets());
        using (no_grad()) TinyTrainer.Parameters(peft)[0].fill_(3);
        var before = Snapshot(peft);

        // Same code, different bytes (a trailing byte): a genuine new build as far as the host can tell.
        string dll = Path.Combine(root, "ChannelScale", "ChannelScale.dll");
        File.WriteAllBytes(dll, [.. File.ReadAllBytes(dll), 0]);
        WaitForPending(host);
        var e = Assert.Throws<PluginException>(() => host.ApplyPendingReloads());
        Assert.Contains("reload of plugin 'ChannelScale' abandoned, previous build kept: a participant failed to detach: detach refused", e.Message);

        Assert.Equal(PluginState.Loaded, Assert.Single(host.Plugins).State);
        Assert.Single(reinjections); // rolled back onto the previous build
        Assert.Equal("default", peft.ActiveAdapter);
        var after = Snapshot(peft);
        foreach (var (key, value) in before) Assert.True(BitEqual(value, after[key]), key);
        AssertLayerComputes(surface, gain: 1.0, version: "1.0.0");
        Dispose(before, after);
    }

    [Fact]
    public void A_failed_plugin_loads_once_a_fixed_build_lands()
    {
        string root = build.CopyPristineToNewRoot();
        string dll = Path.Combine(root, "ChannelScale", "ChannelScale.dll");
        byte[] good = File.ReadAllBytes(dll);
        File.WriteAllBytes(dll, "not yet"u8.ToArray());
        var events = new EventBus();
        var loaded = new List<PluginLoadedEvent>();
        using var subscription = events.Subscribe<PluginLoadedEvent>(loaded.Add);
        using var host = NewHost(root, events);
        Assert.Equal(PluginState.Failed, Assert.Single(host.Plugins).State);
        Assert.Throws<PluginException>(() => host.GetMethod("channel_scale"));

        File.WriteAllBytes(dll, good); // the fixed build lands; the failed plugin was being watched too
        WaitForPending(host);
        Assert.Equal(PluginReloadOutcome.Reloaded, Assert.Single(host.ApplyPendingReloads()).Outcome);
        var info = Assert.Single(host.Plugins);
        Assert.Equal((PluginState.Loaded, 1, null), (info.State, info.Generation, info.FailureReason));
        Assert.Equal("channel_scale", host.GetMethod("channel_scale").Name);
        Assert.Equal("ChannelScale", Assert.Single(loaded).Plugin.Name);
    }

    [Fact]
    public void A_reload_can_be_requested_without_a_file_change()
    {
        string root = build.CopyPristineToNewRoot();
        using var host = NewHost(root, new EventBus());
        Assert.Throws<PluginException>(() => host.RequestReload("NoSuchPlugin"));
        host.RequestReload("ChannelScale");
        Assert.Equal(["ChannelScale"], host.PendingReloads);
        Assert.Equal(PluginReloadOutcome.Unchanged, Assert.Single(host.ApplyPendingReloads()).Outcome);
        Assert.False(host.HasPendingReloads);
    }

    /// <summary>
    /// Checks, at the layer, that q_proj computes base(x) * s * gain and comes from the given plugin
    /// version. Not inlined, so that no reference to the plugin's objects outlives the call.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AssertLayerComputes(ModelSurface surface, double gain, string version)
    {
        var layer = (nn.Module<Tensor, Tensor>)surface.GetModule(QProj);
        var scale = layer.named_parameters().Single(p => p.name == "channel_scale").parameter;
        var weight = ((Linear)surface.GetModule(QProj + ".base_layer")).weight!;
        using var _ = no_grad();
        using var x = randn(2, 5, 32);
        using var expected = F.linear(x, weight) * scale * gain;
        using var actual = layer.forward(x);
        Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-6), $"q_proj does not compute base(x) * s * {gain}");
        var assemblyVersion = layer.GetType().Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        Assert.StartsWith(version, assemblyVersion);
    }

    /// <summary>A copy of every adapter tensor, keyed by adapter name and key.</summary>
    private static Dictionary<string, Tensor> Snapshot(PeftModel peft)
    {
        using var _ = no_grad();
        return peft.Adapters.SelectMany(a => a.Adapter.GetState().Select(kv => (Key: $"{a.Name}/{kv.Key}", kv.Value)))
            .ToDictionary(x => x.Key, x => x.Value.detach().clone());
    }

    /// <summary>Same shape and the same float32 bits, element for element.</summary>
    private static bool BitEqual(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype &&
        a.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits));

    private static void WaitForPending(PluginHost host)
    {
        var clock = Stopwatch.StartNew();
        while (!host.HasPendingReloads)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the file change was not noticed");
            Thread.Sleep(20);
        }
    }

    private static void Dispose(params Dictionary<string, Tensor>?[] states)
    {
        foreach (var state in states)
        {
            if (state is null) continue;
            foreach (var t in state.Values) t.Dispose();
        }
    }

    private sealed class FailingParticipant : IPluginReloadParticipant
    {
        public Action<PluginExports>? Detach(PluginExports outgoing) => throw new InvalidOperationException("detach refused");
    }
}
