using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ChannelScale;

/// <summary>
/// Per-channel output scaling: a learned vector s per output channel of each target linear,
/// y = base(x) * s * OutputGain, s initialised to 1. Saved as
/// <c>base_model.model.&lt;module path&gt;.channel_scale</c>.
/// </summary>
public sealed class ChannelScaleMethod : IPeftMethod
{
    /// <summary>Build 1 multiplies by 1; the hot-reload test rebuilds with 2 to see the new code run.</summary>
    public const double OutputGain = 1.0;

    public string Name => "channel_scale";
    public string PeftType => "CHANNEL_SCALE";
    public string Description => $"learned per-output-channel scale on target linears (gain {OutputGain})";

    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<ChannelScaleConfig>(source, PeftType);

    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        var cfg = (ChannelScaleConfig)config;
        // TorchSharp's named_modules() may also list modules under their C# field names
        // (`_q`, `<SelfAttention>k__BackingField`); Hugging Face names never start with _ or <.
        var targets = model.NamedModules()
            .Where(m => m.Path.Split('.').All(s => s.Length > 0 && s[0] != '_' && s[0] != '<'))
            .Where(m => cfg.TargetModules.Contains(m.Path.Split('.')[^1]) && LinearLayers.IsLinear(m.Module))
            .ToList();
        if (targets.Count == 0)
            throw new ConfigException($"no linear module matches target_modules [{string.Join(", ", cfg.TargetModules)}]", "target_modules");
        var wrapped = new List<(string Path, ChannelScaleLinear Layer)>();
        foreach (var (path, module) in targets)
        {
            var layer = new ChannelScaleLinear(module, model.Routing, adapterName, model.Device, OutputGain);
            model.ReplaceModule(path, layer);
            wrapped.Add((path, layer));
        }
        return new ChannelScaleAdapter(model, adapterName, cfg, wrapped);
    }
}

public sealed class ChannelScaleConfig : PeftConfig
{
    [ConfigKey("target_modules")]
    public List<string> TargetModules { get; set; } = ["q_proj", "v_proj"];

    public override void Validate()
    {
        if (TargetModules.Count == 0) throw new ConfigException("target_modules must name at least one module", "target_modules");
    }
}

/// <summary>Wraps a linear layer: base(x) * s * gain while the adapter is active.</summary>
public sealed class ChannelScaleLinear : CanonicalModule<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _base;
    private readonly IAdapterRouting _routing;
    private readonly string _adapter;
    private readonly double _gain;

    public ChannelScaleLinear(nn.Module baseLayer, IAdapterRouting routing, string adapter, Device device, double gain) : base("ChannelScaleLinear")
    {
        _base = (nn.Module<Tensor, Tensor>)baseLayer;
        _routing = routing;
        _adapter = adapter;
        _gain = gain;
        BaseLayer = baseLayer;
        var (_, outFeatures) = LinearLayers.Features(baseLayer);
        Scale = new Parameter(ones(outFeatures, ScalarType.Float32, device), requires_grad: true);
        register_module("base_layer", baseLayer);
        register_parameter("channel_scale", Scale);
    }

    public nn.Module BaseLayer { get; }
    public Parameter Scale { get; }

    public override Tensor forward(Tensor x)
    {
        var y = _base.forward(x);
        if (!_routing.IsActive(_adapter)) return y;
        using var scope = NewDisposeScope();
        return (y * Scale.to(y.dtype) * _gain).MoveToOuterDisposeScope();
    }
}

public sealed class ChannelScaleAdapter(IPeftModelSurface model, string name, ChannelScaleConfig config,
    List<(string Path, ChannelScaleLinear Layer)> layers) : IAdapter
{
    public string Name => name;
    public PeftConfig Config => config;
    public bool CanMerge => false;
    public bool IsMerged => false;

    private static string KeyOf(string path) => $"base_model.model.{path}.channel_scale";

    public IEnumerable<(string Key, Parameter Parameter)> NamedParameters() => layers.Select(l => (KeyOf(l.Path), l.Layer.Scale));

    public IReadOnlyDictionary<string, Tensor> GetState() => layers.ToDictionary(l => KeyOf(l.Path), l => (Tensor)l.Layer.Scale);

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        foreach (var (path, layer) in layers)
        {
            string key = KeyOf(path);
            if (!state.TryGetValue(key, out var value)) throw new ArgumentException($"missing tensor '{key}'");
            if (!value.shape.SequenceEqual(layer.Scale.shape))
                throw new ArgumentException($"tensor '{key}' has shape [{string.Join(", ", value.shape)}], expected [{string.Join(", ", layer.Scale.shape)}]");
            layer.Scale.copy_(value);
        }
    }

    public void Merge() => throw new NotSupportedException("channel_scale does not merge");
    public void Unmerge() => throw new NotSupportedException("channel_scale does not merge");

    public void Remove(bool keepMerged = false)
    {
        foreach (var (path, layer) in layers) model.ReplaceModule(path, layer.BaseLayer);
        layers.Clear();
    }
}
