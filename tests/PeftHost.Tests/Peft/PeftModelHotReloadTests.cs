using System.Runtime.Loader;
using System.Text.Json.Nodes;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Peft;

/// <summary>
/// <see cref="PeftModel"/>'s side of a hot reload: the adapters of the outgoing build are re-injected with the incoming
/// build through the same checked path as any new adapter (guarded inject, finiteness check, state load).
/// </summary>
public sealed class PeftModelHotReloadTests
{
    private static readonly JsonObject Options = new() { ["r"] = 2, ["targetModules"] = new JsonArray("q_proj", "v_proj") };

    [Fact]
    public void A_reload_restores_state_activity_trainability_and_merges_through_the_checked_add()
    {
        var model = TinyModels.Create();
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        peft.AddAdapter("lora", Options.DeepClone().AsObject(), "frozen");
        peft.AddAdapter("lora", Options.DeepClone().AsObject(), "trained");
        using (no_grad())
            foreach (var (_, p) in peft.Adapters.SelectMany(a => a.Adapter.NamedParameters())) p.fill_(0.25);
        peft.MergeAdapter(["frozen"]);
        peft.SetAdapter("trained");
        var before = Snapshot(peft);

        var reinject = peft.Detach(Exports("1.0.0", new LoraMethod()))!;
        Assert.Empty(peft.Adapters);
        reinject(Exports("2.0.0", new LoraMethod()));

        Assert.Equal(["frozen", "trained"], peft.Adapters.Select(a => a.Name).Order());
        Assert.Equal("trained", peft.ActiveAdapter);
        Assert.True(peft["frozen"].Adapter.IsMerged);
        Assert.False(peft["trained"].Adapter.IsMerged);
        Assert.All(peft["trained"].Adapter.NamedParameters(), p => Assert.True(p.Parameter.requires_grad, p.Key));
        Assert.All(peft["frozen"].Adapter.NamedParameters(), p => Assert.False(p.Parameter.requires_grad, p.Key));
        var after = Snapshot(peft);
        foreach (var (key, value) in before) Assert.True(value.equal(after[key]).all().item<bool>(), key);
    }

    [Fact]
    public void A_rebuilt_method_whose_adapter_is_born_non_finite_is_refused_on_reinjection_as_on_add()
    {
        var model = TinyModels.Create();
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        peft.AddAdapter("lora", Options.DeepClone().AsObject());

        var reinject = peft.Detach(Exports("1.0.0", new LoraMethod()))!;
        var e = Assert.Throws<InvalidDataException>(() => reinject(Exports("2.0.0", new NaNLoraMethod())));

        Assert.StartsWith("lora.Inject made adapter 'default' whose parameter 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'", e.Message);
        Assert.Empty(peft.Adapters);
        Assert.IsType<TorchSharp.Modules.Linear>(peft.Surface.GetModule("model.layers.0.self_attn.q_proj"));
    }

    /// <summary>A build's exports whose types live in the default load context (where the test's plugin types are).</summary>
    private static PluginExports Exports(string version, IPeftMethod method) =>
        new("Lora", version, [method], [], AssemblyLoadContext.Default);

    private static Dictionary<string, Tensor> Snapshot(PeftModel peft) =>
        peft.Adapters.SelectMany(a => a.Adapter.GetState().Select(kv => (Key: $"{a.Name}/{kv.Key}", Value: kv.Value.detach().clone())))
            .ToDictionary(x => x.Key, x => x.Value);

    /// <summary>A broken rebuild of LoRA: its adapters start with NaN in lora_A.</summary>
    private sealed class NaNLoraMethod : IPeftMethod
    {
        private readonly LoraMethod _lora = new();

        public string Name => _lora.Name;

        public string PeftType => _lora.PeftType;

        public string Description => _lora.Description;

        public PeftConfig BindConfig(ConfigSource source) => _lora.BindConfig(source);

        public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
        {
            var adapter = _lora.Inject(model, adapterName, config);
            using (no_grad())
                foreach (var (key, p) in adapter.NamedParameters())
                    if (key.EndsWith("lora_A.weight", StringComparison.Ordinal)) p.fill_(double.NaN);
            return adapter;
        }
    }
}
