using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Unstable;

/// <summary>Corrupts its own state: its adapters' scales come out NaN.</summary>
public sealed class NanScaleMethod : IPeftMethod
{
    public string Name => "nan_scale";
    public string PeftType => "NAN_SCALE";
    public string Description => "a per-channel scale that starts as NaN";
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<ScaleConfig>(source, PeftType);
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config) =>
        ScaleAdapter.Inject(model, adapterName, (ScaleConfig)config, float.NaN);
}

/// <summary>Works once, then its state is corrupt: the second Inject (another adapter, a re-injection) throws.</summary>
public sealed class SecondCallThrowsMethod : IPeftMethod
{
    private int _calls;

    public string Name => "second_call_throws";
    public string PeftType => "SECOND_CALL_THROWS";
    public string Description => "throws from its second Inject";
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<ScaleConfig>(source, PeftType);

    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        if (Interlocked.Increment(ref _calls) > 1) throw new InvalidOperationException($"internal state corrupted after {_calls - 1} call(s)");
        return ScaleAdapter.Inject(model, adapterName, (ScaleConfig)config, 1f);
    }
}

public sealed class ScaleConfig : PeftConfig
{
    [ConfigKey("target_modules")]
    public List<string> TargetModules { get; set; } = ["q_proj"];
}

/// <summary>y = base(x) * s while the adapter is active.</summary>
public sealed class ScaleLinear : CanonicalModule<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _base;
    private readonly IAdapterRouting _routing;
    private readonly string _adapter;

    public ScaleLinear(nn.Module baseLayer, IAdapterRouting routing, string adapter, Device device, float initial) : base("ScaleLinear")
    {
        _base = (nn.Module<Tensor, Tensor>)baseLayer;
        _routing = routing;
        _adapter = adapter;
        BaseLayer = baseLayer;
        var (_, outFeatures) = LinearLayers.Features(baseLayer);
        Scale = new Parameter(full(outFeatures, initial, ScalarType.Float32, device), requires_grad: true);
        register_module("base_layer", baseLayer);
        register_parameter("scale", Scale);
    }

    public nn.Module BaseLayer { get; }
    public Parameter Scale { get; }

    public override Tensor forward(Tensor x)
    {
        var y = _base.forward(x);
        return _routing.IsActive(_adapter) ? y * Scale : y;
    }
}

public sealed class ScaleAdapter(IPeftModelSurface model, string name, ScaleConfig config, List<(string Path, ScaleLinear Layer)> layers) : IAdapter
{
    public static ScaleAdapter Inject(IPeftModelSurface model, string adapterName, ScaleConfig config, float initial)
    {
        var layers = new List<(string, ScaleLinear)>();
        foreach (var (path, module) in model.NamedModules()
                     .Where(m => m.Path.Split('.').All(s => s.Length > 0 && s[0] != '_' && s[0] != '<'))
                     .Where(m => config.TargetModules.Contains(m.Path.Split('.')[^1]) && LinearLayers.IsLinear(m.Module))
                     .ToList())
        {
            var layer = new ScaleLinear(module, model.Routing, adapterName, model.Device, initial);
            model.ReplaceModule(path, layer);
            layers.Add((path, layer));
        }
        return new ScaleAdapter(model, adapterName, config, layers);
    }

    public string Name => name;
    public PeftConfig Config => config;
    public bool CanMerge => false;
    public bool IsMerged => false;
    private static string KeyOf(string path) => $"base_model.model.{path}.scale";
    public IEnumerable<(string Key, Parameter Parameter)> NamedParameters() => layers.Select(l => (KeyOf(l.Path), l.Layer.Scale));
    public IReadOnlyDictionary<string, Tensor> GetState() => layers.ToDictionary(l => KeyOf(l.Path), l => (Tensor)l.Layer.Scale);

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        foreach (var (path, layer) in layers) layer.Scale.copy_(state[KeyOf(path)]);
    }

    public void Merge() => throw new NotSupportedException();
    public void Unmerge() => throw new NotSupportedException();

    public void Remove(bool keepMerged = false)
    {
        foreach (var (path, layer) in layers) model.ReplaceModule(path, layer.BaseLayer);
        layers.Clear();
    }
}
