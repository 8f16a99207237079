using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MyMethod;

/// <summary>
/// A complete, minimal method: a learned scale per output channel of each target linear layer,
/// y = base(x) * s, with s starting at 1 (so a new adapter changes nothing until it trains).
/// The host finds this class because it is public, implements <see cref="IPeftMethod"/> and has a
/// parameterless constructor. Keep no static state: a hot reload creates a fresh instance.
/// </summary>
public sealed class MyMethodMethod : IPeftMethod
{
    /// <inheritdoc />
    public string Name => "my_method";

    /// <inheritdoc />
    public string PeftType => "MY_METHOD";

    /// <inheritdoc />
    public string Description => "learned per-output-channel scale on target linear layers";

    /// <inheritdoc />
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<MyMethodConfig>(source, PeftType);

    /// <inheritdoc />
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        var cfg = (MyMethodConfig)config;
        var targets = model.NamedModules()
            // Hugging Face names never start with _ or <; TorchSharp may list C# field names too.
            .Where(m => m.Path.Split('.').All(s => s.Length > 0 && s[0] != '_' && s[0] != '<'))
            .Where(m => cfg.TargetModules.Contains(m.Path.Split('.')[^1]) && LinearLayers.IsLinear(m.Module))
            .ToList();
        if (targets.Count == 0)
            throw new ConfigException($"no linear layer matches target_modules [{string.Join(", ", cfg.TargetModules)}]", "target_modules");

        var layers = new List<(string Path, ScaledLinear Layer)>();
        foreach (var (path, module) in targets)
        {
            var layer = new ScaledLinear(module, model.Routing, adapterName, model.Device, trainable: !cfg.InferenceMode);
            model.ReplaceModule(path, layer);
            layers.Add((path, layer));
        }
        return new MyMethodAdapter(model, adapterName, cfg, layers);
    }
}

/// <summary>The method's options: PEFT's snake_case keys, recipes' camelCase ones.</summary>
public sealed class MyMethodConfig : PeftConfig
{
    /// <summary>Names of the linear layers to scale (the last part of the module path).</summary>
    [ConfigKey("target_modules")]
    public List<string> TargetModules { get; set; } = ["q_proj", "v_proj"];

    /// <inheritdoc />
    public override void Validate()
    {
        if (TargetModules.Count == 0) throw new ConfigException("target_modules must name at least one layer", "target_modules");
    }
}

/// <summary>Wraps a linear layer: base(x) * s while its adapter is active.</summary>
public sealed class ScaledLinear : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _base;
    private readonly IAdapterRouting _routing;
    private readonly string _adapter;

    /// <summary>Wraps <paramref name="baseLayer"/> for adapter <paramref name="adapter"/>.</summary>
    public ScaledLinear(nn.Module baseLayer, IAdapterRouting routing, string adapter, Device device, bool trainable) : base("ScaledLinear")
    {
        _base = (nn.Module<Tensor, Tensor>)baseLayer;
        _routing = routing;
        _adapter = adapter;
        BaseLayer = baseLayer;
        Scale = new Parameter(ones(LinearLayers.Features(baseLayer).Out, ScalarType.Float32, device), requires_grad: trainable);
        register_module("base_layer", baseLayer);
        register_parameter("scale", Scale);
    }

    /// <summary>The wrapped layer.</summary>
    public nn.Module BaseLayer { get; }

    /// <summary>The learned scale [out features].</summary>
    public Parameter Scale { get; }

    /// <summary>Merged into the base weights: forward must not scale again.</summary>
    public bool Merged { get; set; }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var y = _base.forward(x);
        if (Merged || !_routing.IsActive(_adapter)) return y;
        using var scope = NewDisposeScope();
        return (y * Scale.to(y.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Children are registered explicitly above; stop TorchSharp adding fields again under their C# names.</summary>
    protected override void RegisterComponents() { }
}

/// <summary>The adapter on the model: its parameters, its saved state, merging and removal.</summary>
public sealed class MyMethodAdapter(IPeftModelSurface model, string name, MyMethodConfig config,
    List<(string Path, ScaledLinear Layer)> layers) : IAdapter
{
    /// <inheritdoc />
    public string Name => name;

    /// <inheritdoc />
    public PeftConfig Config => config;

    /// <inheritdoc />
    public bool CanMerge => true;

    /// <inheritdoc />
    public bool IsMerged => layers.Count > 0 && layers[0].Layer.Merged;

    /// <summary>PEFT's key layout: <c>base_model.model.&lt;module path&gt;.scale</c>.</summary>
    private static string KeyOf(string path) => $"base_model.model.{path}.scale";

    /// <inheritdoc />
    public IEnumerable<(string Key, Parameter Parameter)> NamedParameters() => layers.Select(l => (KeyOf(l.Path), l.Layer.Scale));

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState() => layers.ToDictionary(l => KeyOf(l.Path), l => (Tensor)l.Layer.Scale);

    /// <inheritdoc />
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

    /// <inheritdoc />
    public void Merge() => Fold(multiply: true);

    /// <inheritdoc />
    public void Unmerge() => Fold(multiply: false);

    /// <inheritdoc />
    public void Remove(bool keepMerged = false)
    {
        if (IsMerged && !keepMerged) Unmerge();
        foreach (var (path, layer) in layers) model.ReplaceModule(path, layer.BaseLayer);
        layers.Clear();
    }

    /// <summary>W' = diag(s)·W and b' = s⊙b to merge; the inverse to unmerge.</summary>
    private void Fold(bool multiply)
    {
        if (IsMerged == multiply) return;
        using var _ = no_grad();
        foreach (var (_, layer) in layers)
        {
            using var weight = LinearLayers.ReadWeight(layer.BaseLayer, ScalarType.Float32);
            using var column = layer.Scale.detach().unsqueeze(1);
            using var folded = multiply ? weight * column : weight / column;
            LinearLayers.WriteWeight(layer.BaseLayer, folded);
            var bias = layer.BaseLayer is Linear l ? l.bias : (layer.BaseLayer as ILinearLayer)?.Bias;
            if (bias is not null)
            {
                using var s = layer.Scale.detach().to(bias.dtype);
                if (multiply) bias.mul_(s); else bias.div_(s);
            }
            layer.Merged = multiply;
        }
    }
}
