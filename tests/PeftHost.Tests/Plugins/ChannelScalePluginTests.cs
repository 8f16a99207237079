using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Plugins;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Plugins;

/// <summary>An out-of-tree method plugin, built from source, used through the plugin host on a real model.</summary>
[Collection(PluginTestCollection.Name)]
public sealed class ChannelScalePluginTests(BuiltPlugins built, ITestOutputHelper output)
{
    private const string QProj = "model.layers.0.self_attn.q_proj";

    private PluginHost NewHost() => new(new PluginHostOptions
    {
        PluginDirectories = [built.ChannelScaleFolder], IncludeEnvironment = false, IncludeBuiltIn = false, WatchForChanges = false,
    });

    [Fact]
    public void Sdk_and_TorchSharp_are_shared_with_the_plugin_not_loaded_twice()
    {
        using var host = NewHost();
        var method = host.GetMethod("channel_scale");
        var context = AssemblyLoadContext.GetLoadContext(method.GetType().Assembly)!;
        Assert.NotSame(AssemblyLoadContext.Default, context);
        Assert.True(context.IsCollectible);
        var names = context.Assemblies.Select(a => a.GetName().Name!).ToArray();
        Assert.Equal(["ChannelScale"], names);
        Assert.Contains(typeof(IPeftMethod), method.GetType().GetInterfaces());
    }

    [Fact]
    public void Injected_channel_scale_changes_the_forward_when_the_scale_changes()
    {
        using var host = NewHost();
        using var model = TinyModel.Create();
        using var ids = TinyModel.Batch();
        var surface = new ModelSurface(model);
        using var baseline = model.Forward(ids);

        var method = host.GetMethod("channel_scale");
        var config = method.BindConfig(ConfigSource.FromOptions(new JsonObject { ["targetModules"] = new JsonArray("q_proj", "v_proj") }));
        var adapter = host.InvokeGuarded(method, "channel_scale.Inject", () => method.Inject(surface, "default", config));
        model.Hooks.Routing.ActiveAdapters = ["default"];

        var state = adapter.GetState();
        Assert.Equal(4, state.Count); // q_proj and v_proj of 2 layers
        Assert.Contains($"base_model.model.{QProj}.channel_scale", state.Keys);
        Assert.Equal([32L], state[$"base_model.model.{QProj}.channel_scale"].shape);

        using (var identity = model.Forward(ids))
            Assert.True(identity.allclose(baseline, rtol: 0, atol: 1e-6), "s = 1 must leave the model unchanged");

        using (no_grad()) state[$"base_model.model.{QProj}.channel_scale"].mul_(1.5);
        using (var scaled = model.Forward(ids))
            Assert.False(scaled.allclose(baseline, rtol: 1e-4, atol: 1e-4), "changing s must change the output");

        // At the module: y = base(x) * s exactly.
        var layer = (nn.Module<Tensor, Tensor>)surface.GetModule(QProj);
        var weight = ((Linear)surface.GetModule(QProj + ".base_layer")).weight!;
        using var x = randn(3, 32);
        using var expected = F.linear(x, weight) * state[$"base_model.model.{QProj}.channel_scale"];
        using var actual = layer.forward(x);
        Assert.True(actual.allclose(expected, rtol: 1e-6, atol: 1e-6));

        adapter.Remove();
        Assert.IsType<Linear>(surface.GetModule(QProj));
        using var restored = model.Forward(ids);
        Assert.True(restored.allclose(baseline, rtol: 0, atol: 0));
    }

    [Fact]
    public void A_config_error_passes_through_without_failing_the_plugin()
    {
        using var host = NewHost();
        using var model = TinyModel.Create();
        var surface = new ModelSurface(model);
        var method = host.GetMethod("channel_scale");
        var config = method.BindConfig(ConfigSource.FromOptions(new JsonObject { ["targetModules"] = new JsonArray("nope_proj") }));
        var e = Assert.Throws<ConfigException>(() => host.InvokeGuarded(method, "channel_scale.Inject", () => method.Inject(surface, "default", config)));
        Assert.Contains("nope_proj", e.Message);
        Assert.Equal(PluginState.Loaded, Assert.Single(host.Plugins).State);
    }

    /// <summary>
    /// Measures what the plugin boundary costs per call: the same assembly loaded into a plain
    /// (non-collectible) context and called directly, against the plugin host's collectible
    /// context called through <see cref="PluginHost.InvokeGuarded{T}"/>.
    /// </summary>
    [Fact]
    public void Measure_per_call_overhead_of_the_plugin_boundary()
    {
        using var host = NewHost();
        var plugin = host.GetMethod("channel_scale");
        var direct = LoadDirectly(Path.Combine(built.ChannelScaleFolder, "ChannelScale.dll"));
        Assert.NotSame(plugin.GetType(), direct.GetType());

        const int calls = 2_000_000;
        double directNs = NsPerCall(calls, () => direct.PeftType);
        double pluginNs = NsPerCall(calls, () => plugin.PeftType);
        double guardedNs = NsPerCall(calls / 10, () => host.InvokeGuarded(plugin, "channel_scale.PeftType", () => plugin.PeftType));

        using var model1 = TinyModel.Create();
        using var model2 = TinyModel.Create();
        var pluginLayer = InjectAndGetLayer(host, plugin, model1, guarded: true);
        var directLayer = InjectAndGetLayer(host, direct, model2, guarded: false);
        using var x = randn(1, 8, 32);
        // Interleaved rounds, best of each, so that warm-up and noise fall on neither side.
        double pluginForwardUs = double.MaxValue, directForwardUs = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            pluginForwardUs = Math.Min(pluginForwardUs, NsPerForward(pluginLayer, x) / 1000);
            directForwardUs = Math.Min(directForwardUs, NsPerForward(directLayer, x) / 1000);
        }

        output.WriteLine($"interface call, plain context:        {directNs,8:F2} ns/call");
        output.WriteLine($"interface call, plugin context:       {pluginNs,8:F2} ns/call");
        output.WriteLine($"InvokeGuarded + interface call:       {guardedNs,8:F2} ns/call (overhead {guardedNs - pluginNs:F2} ns)");
        output.WriteLine($"wrapped q_proj forward [1,8,32], plain context:  {directForwardUs,8:F2} us");
        output.WriteLine($"wrapped q_proj forward [1,8,32], plugin context: {pluginForwardUs,8:F2} us");
        // Loose bounds: the point is the numbers above; these only catch a pathological boundary.
        Assert.True(guardedNs < 5_000, $"InvokeGuarded costs {guardedNs} ns");
        Assert.True(pluginForwardUs < directForwardUs * 3 + 50, $"plugin forward {pluginForwardUs} us vs direct {directForwardUs} us");
    }

    private static IPeftMethod LoadDirectly(string path)
    {
        // A plain context resolves PeftHost.Sdk and TorchSharp from the default context, as the host does.
        var context = new AssemblyLoadContext("direct-" + Guid.NewGuid().ToString("N"), isCollectible: false);
        var assembly = context.LoadFromAssemblyPath(path);
        return (IPeftMethod)Activator.CreateInstance(assembly.GetType("ChannelScale.ChannelScaleMethod")!)!;
    }

    private static nn.Module<Tensor, Tensor> InjectAndGetLayer(PluginHost host, IPeftMethod method, CausalLanguageModel model, bool guarded)
    {
        var surface = new ModelSurface(model);
        var config = method.BindConfig(ConfigSource.FromOptions(new JsonObject()));
        if (guarded) host.InvokeGuarded(method, "channel_scale.Inject", () => method.Inject(surface, "default", config));
        else method.Inject(surface, "default", config);
        model.Hooks.Routing.ActiveAdapters = ["default"];
        return (nn.Module<Tensor, Tensor>)surface.GetModule(QProj);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double NsPerCall(int calls, Func<string> call)
    {
        for (int i = 0; i < 10_000; i++) call(); // let tiered JIT settle
        int sink = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < calls; i++) sink += call().Length;
        double ns = clock.Elapsed.TotalNanoseconds / calls;
        Assert.True(sink > 0);
        return ns;
    }

    private static double NsPerForward(nn.Module<Tensor, Tensor> layer, Tensor x)
    {
        using var _ = no_grad();
        for (int i = 0; i < 100; i++) layer.forward(x).Dispose();
        const int n = 1000;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < n; i++) layer.forward(x).Dispose();
        return clock.Elapsed.TotalNanoseconds / n;
    }
}
