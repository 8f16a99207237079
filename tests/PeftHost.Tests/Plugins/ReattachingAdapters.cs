using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Plugins;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Tests.Plugins;

/// <summary>
/// What the PEFT model does for a hot reload, reduced to the essentials: it keeps the adapters
/// it injected and, when their plugin reloads, takes their state and config, removes them, and
/// re-injects them with the new build, loading the state back.
/// </summary>
internal sealed class ReattachingAdapters(PluginHost host, ModelSurface model) : IPluginReloadParticipant
{
    private readonly List<Attached> _attached = [];

    private sealed record Attached(string PluginName, string MethodName, string AdapterName, IAdapter Adapter);

    /// <summary>How many times a reload re-attached adapters.</summary>
    public int Reattachments { get; private set; }

    /// <summary>Injects an adapter with the named method (guarded, so a throw names the plugin) and makes it the active one.</summary>
    public void Attach(string methodName, string adapterName, JsonObject options)
    {
        var method = host.GetMethod(methodName);
        var config = method.BindConfig(ConfigSource.FromOptions(options));
        var adapter = host.InvokeGuarded(method, $"{methodName}.Inject", () => method.Inject(model, adapterName, config));
        _attached.Add(new Attached(host.PluginOf(method)!.Name, method.Name, adapterName, adapter));
        model.Model.Hooks.Routing.ActiveAdapters = [adapterName];
    }

    /// <summary>The adapter named <paramref name="name"/> (its current build).</summary>
    public IAdapter Adapter(string name) => _attached.Single(a => a.AdapterName == name).Adapter;

    /// <summary>Every trainable adapter parameter, in a stable order.</summary>
    public IReadOnlyList<Parameter> Parameters() =>
        _attached.SelectMany(a => a.Adapter.NamedParameters()).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Parameter).ToList();

    /// <summary>A copy of every adapter tensor, keyed by adapter name and key.</summary>
    public Dictionary<string, Tensor> SnapshotState()
    {
        using var _ = no_grad();
        return _attached.SelectMany(a => a.Adapter.GetState().Select(kv => (Key: $"{a.AdapterName}/{kv.Key}", kv.Value)))
            .ToDictionary(x => x.Key, x => x.Value.detach().clone());
    }

    public Action<PluginExports>? Detach(PluginExports outgoing)
    {
        // Match by the plugin whose method made the adapter: an adapter's own type might come from
        // elsewhere (an SDK helper), yet its modules are still the plugin's.
        var mine = _attached.Where(a => a.PluginName == outgoing.PluginName).ToList();
        if (mine.Any(a => !outgoing.Owns(a.Adapter))) throw new InvalidOperationException("adapter made by another build");
        if (mine.Count == 0) return null;
        var saved = new List<(string Method, string Adapter, JsonObject Config, Dictionary<string, Tensor> State)>();
        foreach (var a in mine)
        {
            Dictionary<string, Tensor> state;
            using (no_grad()) state = a.Adapter.GetState().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
            saved.Add((a.MethodName, a.AdapterName, a.Adapter.Config.ToJson(), state));
            host.InvokeGuarded(a.Adapter, $"{a.MethodName}.Remove", () => a.Adapter.Remove());
            _attached.Remove(a);
        }
        // The continuation holds only names, JSON and host-owned tensors: nothing of the old build.
        return incoming =>
        {
            foreach (var (methodName, adapterName, json, state) in saved)
            {
                var method = incoming.GetMethod(methodName);
                var config = method.BindConfig(ConfigSource.FromAdapterConfig(json, $"adapter '{adapterName}' (reloaded)"));
                var adapter = host.InvokeGuarded(method, $"{methodName}.Inject", () => method.Inject(model, adapterName, config));
                host.InvokeGuarded(adapter, $"{methodName}.LoadState", () => adapter.LoadState(state));
                foreach (var t in state.Values) t.Dispose();
                _attached.Add(new Attached(incoming.PluginName, methodName, adapterName, adapter));
            }
            Reattachments++;
        };
    }
}
