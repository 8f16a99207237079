using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MyMethod;

/// <summary>
/// A complete, minimal method: a learned scale per output channel of each target linear layer,
/// y = base(x) * s, with s starting at 1 (so a new adapter changes nothing until it trains).
/// The host finds this class because it is public, implements <see cref="IPeftMethod"/> (through the SDK base)
/// and has a parameterless constructor. Keep no static state: a hot reload creates a fresh instance.
/// </summary>
/// <remarks>
/// The SDK base (<see cref="LinearTunerMethod{TConfig, TLayer}"/>, PEFT's BaseTuner) lists the model's modules,
/// matches target_modules / exclude_modules as PEFT does ("all-linear" included), refuses duplicate adapters and
/// configs that match nothing, and puts a layer in place of each target; a second adapter lands on the layers the
/// first one made. The method says how to make a layer and how to add an adapter to it.
/// </remarks>
public sealed class MyMethodMethod : LinearTunerMethod<MyMethodConfig, ScaledLinear>
{
    /// <inheritdoc />
    public override string Name => "my_method";

    /// <inheritdoc />
    public override string PeftType => "MY_METHOD";

    /// <inheritdoc />
    public override string Description => "learned per-output-channel scale on target linear layers";

    /// <inheritdoc />
    protected override string DisplayName => "my_method";

    /// <inheritdoc />
    protected override IReadOnlyDictionary<string, IReadOnlyList<string>> DefaultTargetModules => PeftTargetDefaults.Lora; // LoRA's per-family defaults: q_proj, v_proj

    /// <inheritdoc />
    protected override ScaledLinear CreateLayer(TunerInjection<MyMethodConfig> injection, string path, nn.Module target) =>
        new(target, injection.Model.Routing);

    /// <inheritdoc />
    protected override void UpdateLayer(TunerInjection<MyMethodConfig> injection, string path, ScaledLinear layer) =>
        layer.AddAdapter(injection.AdapterName, injection.Model.Device, injection.Trainable);

    /// <inheritdoc />
    protected override IAdapter CreateAdapter(TunerInjection<MyMethodConfig> injection, List<(string Path, ScaledLinear Layer)> layers) =>
        new MyMethodAdapter(injection.Model, injection.AdapterName, injection.Config, layers);
}

/// <summary>The method's options: PEFT's snake_case keys, recipes' camelCase ones.</summary>
public sealed class MyMethodConfig : PeftConfig, ITargetModulesConfig
{
    /// <summary>The layers to scale: a list of names (the end of the module path), a full-match regex or "all-linear"; missing means q_proj and v_proj.</summary>
    [ConfigKey("target_modules")]
    public JsonNode? TargetModules { get; set; }

    /// <summary>Layers to leave alone among the targets: a list of names or a full-match regex.</summary>
    [ConfigKey("exclude_modules")]
    public JsonNode? ExcludeModules { get; set; }

    /// <inheritdoc />
    public override void Validate()
    {
        TargetModulesJson.Validate(TargetModules, "target_modules");
        TargetModulesJson.Validate(ExcludeModules, "exclude_modules");
    }
}

/// <summary>
/// Wraps a linear layer and holds any number of adapters, each a learned scale s [out features]:
/// y = base(x) · s for every active adapter; in a mixed-adapter batch each row uses its own adapter's s.
/// The SDK base (<see cref="PerAdapterTunerLayer{TSettings}"/>) keeps the adapters by name, registers
/// the wrapped layer as <c>base_layer</c> and answers which adapters run. The scale adds no weight
/// delta, so this layer derives from it directly (a ΔW method would use <c>LinearTunerLayer&lt;TSettings&gt;</c>).
/// </summary>
public sealed class ScaledLinear : PerAdapterTunerLayer<Parameter>
{
    // Parameters are reached as <path>.scale.<adapter>, PEFT's layout for per-adapter parameters.
    private readonly AdapterParameterDict _scales = new("scale");

    /// <summary>Wraps <paramref name="baseLayer"/>.</summary>
    public ScaledLinear(nn.Module baseLayer, IAdapterRouting routing) : base("ScaledLinear", "my_method", baseLayer, routing)
    {
        register_module("scale", _scales);
    }

    /// <summary>Adds <paramref name="adapter"/> with a scale of ones.</summary>
    public void AddAdapter(string adapter, Device device, bool trainable)
    {
        var scale = new Parameter(ones(OutFeatures, ScalarType.Float32, device), requires_grad: trainable);
        AddAdapterSettings(adapter, scale);
        _scales.Set(adapter, scale);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (Routing.AdaptersDisabled) return DisabledForward(x);
        using var scope = NewDisposeScope();
        var y = BaseLayer.forward(x);
        if (Routing.RowAdapterNames is { } rows)
        {
            // Mixed batch: row i is scaled by its own adapter's s; rows of other adapters (or none) by ones.
            var perRow = RowSettings(rows, x);
            if (perRow.All(s => s is null)) return y.MoveToOuterDisposeScope();
            var identity = ones(OutFeatures, ScalarType.Float32, y.device);
            var scales = stack(perRow.Select(s => s is null ? identity : (Tensor)s).ToArray()); // [batch, out]
            var shape = Enumerable.Repeat(1L, (int)y.dim()).ToArray();
            shape[0] = y.shape[0];
            shape[^1] = OutFeatures;
            return (y * scales.view(shape).to(y.dtype)).MoveToOuterDisposeScope();
        }
        foreach (var (_, scale) in ActiveAdapterSettings()) y = y * scale.to(y.dtype);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>W' = diag(s)·W and b' = s⊙b: the adapter then acts through the base weight.</summary>
    public override void Merge(string adapter)
    {
        if (!HasAdapter(adapter) || Merged.Contains(adapter)) return;
        Fold(Settings(adapter), multiply: true);
        Merged.Add(adapter);
    }

    /// <summary>The inverse of <see cref="Merge"/>.</summary>
    public override void Unmerge(string adapter)
    {
        if (!Merged.Remove(adapter)) return;
        Fold(Settings(adapter), multiply: false);
    }

    /// <inheritdoc />
    protected override void DisposeAdapter(string adapter, Parameter settings, bool keepMerged) => _scales.Remove(adapter);

    private void Fold(Parameter scale, bool multiply)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var s = scale.detach().to(ScalarType.Float32);
        var weight = LinearLayers.ReadWeight(BaseLayer, ScalarType.Float32);
        var column = s.unsqueeze(1).to(weight.device);
        LinearLayers.WriteWeight(BaseLayer, multiply ? weight * column : weight / column);
        var bias = BaseLayer is Linear l ? l.bias : (BaseLayer as ILinearLayer)?.Bias;
        if (bias is not null)
        {
            var sb = s.to(bias.dtype, bias.device);
            if (multiply) bias.mul_(sb); else bias.div_(sb);
        }
    }
}

/// <summary>
/// One adapter on the model: what trains and what is saved. The SDK base keeps its name, config and
/// layers, merges and unmerges layer by layer, and on removal puts a layer's wrapped module back once
/// its last adapter is gone. A method whose layers cannot merge sets <c>CanMerge = false</c> here.
/// </summary>
public sealed class MyMethodAdapter(IPeftModelSurface model, string name, MyMethodConfig config, List<(string Path, ScaledLinear Layer)> layers)
    : TunerLayerAdapter<ScaledLinear>(model, name, config, layers)
{
    /// <summary>PEFT's key layout, adapter name stripped: <c>base_model.model.&lt;module path&gt;.scale</c>.</summary>
    public override IEnumerable<(string Key, Parameter Parameter)> NamedParameters() =>
        Layers.Select(l => (AdapterStateDict.Key(l.Path, "scale"), l.Layer.Settings(Name)));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, Tensor> GetState()
    {
        using var _ = no_grad();
        return NamedParameters().ToDictionary(p => p.Key, p => p.Parameter.detach().cpu().clone(), StringComparer.Ordinal);
    }

    /// <inheritdoc />
    /// <remarks>Every key must be there with its shape; all problems are reported at once.</remarks>
    public override void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        var expected = NamedParameters().ToList();
        AdapterStateDict.ThrowIfAny(AdapterStateDict.Check(state, expected, Name), "my_method", Name);
        foreach (var key in AdapterStateDict.Unexpected(state, expected))
            Surface.Warn($"my_method adapter '{Name}': unexpected tensor '{key}' ignored");
        AdapterStateDict.CopyInto(state, expected);
    }
}
