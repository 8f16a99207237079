using PeftHost.Core.Models;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace PeftHost.Tests.Plugins;

/// <summary>
/// The SDK's tuner base classes serve a method that adds no weight delta — here a learned output bias that cannot
/// merge into a bias-free linear — without the method keeping adapter names itself.
/// </summary>
public sealed class TunerBaseTests
{
    [Fact]
    public void A_layer_without_a_weight_delta_serves_several_adapters_active_ones_mixed_batches_and_removal()
    {
        var routing = new Routing();
        using var linear = nn.Linear(4, 3, hasBias: false);
        var layer = new BiasLinear(linear, routing);
        layer.Add("a", 1f);
        layer.Add("b", 10f);
        Assert.Throws<InvalidOperationException>(() => layer.Add("a", 2f));
        using var x = randn(2, 4);
        using var y = linear.forward(x);

        routing.Active = ["a"];
        AssertClose(y + 1, layer.forward(x));
        routing.Active = ["a", "b"];
        AssertClose(y + 11, layer.forward(x));
        routing.Active = ["other"];
        AssertClose(y, layer.forward(x));

        routing.Rows = ["b", IAdapterRouting.BaseModelName];
        AssertClose(stack([y[0] + 10, y[1]]), layer.forward(x));
        routing.Rows = ["b"];
        Assert.Throws<ArgumentException>(() => layer.forward(x)); // one name per row
        routing.Rows = null;

        routing.Disabled = true;
        AssertClose(y, layer.forward(x));
        routing.Disabled = false;

        var a = layer.Settings("a");
        layer.RemoveAdapter("a");
        Assert.Equal(["b"], layer.AdapterNames);
        Assert.Throws<KeyNotFoundException>(() => layer.Settings("a"));
        Assert.True(a.IsInvalid, "a removed adapter's tensors are disposed");
    }

    [Fact]
    public void An_adapter_whose_method_cannot_merge_says_so_and_refuses_to_merge()
    {
        using var model = TinyModel.Create();
        var surface = new ModelSurface(model);
        var adapter = new BiasAdapter(surface, "default", new BiasConfig(), []);
        Assert.False(adapter.CanMerge);
        var e = Assert.Throws<InvalidOperationException>(adapter.Merge);
        Assert.Equal("adapter 'default' cannot be merged into the base weights", e.Message);
    }

    private static void AssertClose(Tensor expected, Tensor actual) =>
        Assert.True(allclose(expected, actual, rtol: 1e-5, atol: 1e-6), $"expected {expected.str()}, got {actual.str()}");

    private sealed class Routing : IAdapterRouting
    {
        public IReadOnlyList<string> Active { get; set; } = [];
        public bool Disabled { get; set; }
        public IReadOnlyList<string>? Rows { get; set; }
        public IReadOnlyList<string> ActiveAdapters => Active;
        public bool AdaptersDisabled => Disabled;
        public IReadOnlyList<string>? RowAdapterNames => Rows;
    }

    /// <summary>y = base(x) + b for each active adapter's bias b; no ΔW, so it derives from the per-adapter base directly.</summary>
    private sealed class BiasLinear(nn.Module baseLayer, IAdapterRouting routing) : PerAdapterTunerLayer<Parameter>("BiasLinear", "out_bias", baseLayer, routing)
    {
        public void Add(string adapter, float value) => AddAdapterSettings(adapter, new Parameter(full(OutFeatures, value)));

        public override Tensor forward(Tensor x)
        {
            if (Routing.AdaptersDisabled) return DisabledForward(x);
            var y = BaseLayer.forward(x);
            if (Routing.RowAdapterNames is { } rows)
                return y + stack(RowSettings(rows, x).Select(b => b is null ? zeros(OutFeatures) : (Tensor)b).ToArray());
            foreach (var (_, bias) in ActiveAdapterSettings()) y = y + bias;
            return y;
        }

        public override void Merge(string adapter) => throw new InvalidOperationException("a bias cannot merge into a bias-free linear");

        public override void Unmerge(string adapter) { }

        protected override void DisposeAdapter(string adapter, Parameter settings, bool keepMerged) => settings.Dispose();
    }

    private sealed class BiasConfig : PeftConfig;

    private sealed class BiasAdapter : TunerLayerAdapter<BiasLinear>
    {
        public BiasAdapter(IPeftModelSurface surface, string name, PeftConfig config, List<(string Path, BiasLinear Layer)> layers)
            : base(surface, name, config, layers) => CanMerge = false;

        public override IEnumerable<(string Key, Parameter Parameter)> NamedParameters() => [];

        public override IReadOnlyDictionary<string, Tensor> GetState() => new Dictionary<string, Tensor>();

        public override void LoadState(IReadOnlyDictionary<string, Tensor> state) { }
    }
}
