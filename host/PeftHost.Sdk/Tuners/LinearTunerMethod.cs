using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// The inject driver of a method that wraps linear layers (PEFT's <c>BaseTuner.inject_adapter</c>): it lists the
/// model's modules once each (<see cref="TargetModuleMatcher.Candidates"/>), resolves <c>target_modules</c> (the
/// method's defaults when missing, "all-linear" expanded, both written back into the config as PEFT does), matches
/// (<see cref="TargetModuleMatcher"/>: lists, regexes, <c>exclude_modules</c>, <c>layers_to_transform</c> /
/// <c>layers_pattern</c>), refuses a duplicate adapter, a target that is not linear and a config that matches
/// nothing, and then replaces each target by the method's layer (or adds the adapter to the layer already there).
/// </summary>
/// <remarks>
/// A method supplies its config type, its layer type, "create the layer for one target"
/// (<see cref="CreateLayer"/>), "add the adapter to one layer" (<see cref="UpdateLayer"/>) and the adapter object
/// (<see cref="CreateAdapter"/>); its layer holds the forward and merge maths. <see cref="Prepare"/> and
/// <see cref="CheckTarget"/> are where a method refuses what it cannot do: everything that can fail runs before the
/// model changes, so a refused injection leaves the model as it was.
/// </remarks>
/// <typeparam name="TConfig">The method's config.</typeparam>
/// <typeparam name="TLayer">The method's layer, which wraps one linear layer and holds any number of adapters.</typeparam>
public abstract class LinearTunerMethod<TConfig, TLayer> : IPeftMethod
    where TConfig : PeftConfig, ITargetModulesConfig, new()
    where TLayer : LinearTunerLayer
{
    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public abstract string PeftType { get; }

    /// <inheritdoc />
    public abstract string Description { get; }

    /// <summary>The method's name in error messages ("LoRA", "IA3").</summary>
    protected abstract string DisplayName { get; }

    /// <summary>The <c>target_modules</c> a config without them gets, per model_type (a <see cref="PeftTargetDefaults"/> table).</summary>
    protected abstract IReadOnlyDictionary<string, IReadOnlyList<string>> DefaultTargetModules { get; }

    /// <inheritdoc />
    public virtual PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<TConfig>(source, PeftType);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The config is not this method's, or an adapter of that name is already on the model.</exception>
    /// <exception cref="ConfigException">The config is invalid, matches nothing, or matches a module the method cannot adapt.</exception>
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        if (config is not TConfig typed)
            throw new ArgumentException($"the {Name} method cannot use a {config.PeftType} config", nameof(config));
        typed.Validate();
        var candidates = TargetModuleMatcher.Candidates(model);
        if (candidates.Any(m => HoldsAdapter(m.Module, adapterName)))
            throw new ArgumentException($"an adapter named '{adapterName}' is already on the model", nameof(adapterName));

        var linearPaths = candidates.Where(m => m.Module is TLayer || LinearLayers.IsLinear(m.Module)).Select(m => m.Path).ToList();
        ResolveTargetModules(typed, linearPaths, model.ModelType);
        var injection = new TunerInjection<TConfig>(model, adapterName, typed, candidates);
        Prepare(injection);

        var matcher = TargetModuleMatcher.FromJson(typed.TargetModules, typed.ExcludeModules, linearPaths, typed.LayerIndices, typed.LayerPatterns);
        var targets = new List<(string Path, nn.Module Module)>();
        foreach (var (path, module) in candidates)
        {
            if (!matcher.Matches(path) || PassesOver(module)) continue;
            if (module is not TLayer && !LinearLayers.IsLinear(module))
                throw new ConfigException(
                    $"target module '{path}' is not a linear layer: {DisplayName} adapts linear layers only" +
                    (IsOtherMethodsWrapper(module) ? " (it is already adapted by another method)" : ""), "target_modules");
            CheckTarget(injection, path, module);
            targets.Add((path, module));
        }
        if (targets.Count == 0)
            throw new ConfigException(
                $"target modules {Describe(typed.TargetModules)} not found in the model; available linear modules: " +
                string.Join(", ", linearPaths.Select(LastSegment).Distinct(StringComparer.Ordinal)), "target_modules");

        var layers = new List<(string Path, TLayer Layer)>(targets.Count);
        foreach (var (path, module) in targets)
        {
            var layer = module as TLayer;
            if (layer is null)
            {
                layer = CreateLayer(injection, path, module);
                model.ReplaceModule(path, layer);
            }
            UpdateLayer(injection, path, layer);
            layers.Add((path, layer));
        }
        return CreateAdapter(injection, layers);
    }

    /// <summary>True when an adapter named <paramref name="adapterName"/> is on <paramref name="model"/> in any of this method's modules.</summary>
    public bool IsOnModel(IPeftModelSurface model, string adapterName) =>
        TargetModuleMatcher.Candidates(model).Any(m => HoldsAdapter(m.Module, adapterName));

    /// <summary>
    /// True when <paramref name="module"/> holds <paramref name="adapterName"/>: by default a <typeparamref name="TLayer"/>
    /// that has it; a method with other per-adapter modules (LoRA's modules_to_save copies) adds those.
    /// </summary>
    protected virtual bool HoldsAdapter(nn.Module module, string adapterName) => module is TLayer layer && layer.HasAdapter(adapterName);

    /// <summary>True for a module that matching passes over without error (one of the method's own non-layer wrappers); none by default.</summary>
    protected virtual bool PassesOver(nn.Module module) => false;

    /// <summary>
    /// Checks and completes the config against the model once <c>target_modules</c> is resolved and before any
    /// target is matched; throw <see cref="ConfigException"/> to refuse. Nothing here may change the model.
    /// </summary>
    protected virtual void Prepare(TunerInjection<TConfig> injection) { }

    /// <summary>Checks one matched target (a linear layer, or this method's layer); throw <see cref="ConfigException"/> to refuse. Nothing here may change the model.</summary>
    protected virtual void CheckTarget(TunerInjection<TConfig> injection, string path, nn.Module target) { }

    /// <summary>The method's layer wrapping <paramref name="target"/>, a linear layer that holds no adapter yet; the driver puts it in place.</summary>
    protected abstract TLayer CreateLayer(TunerInjection<TConfig> injection, string path, nn.Module target);

    /// <summary>Adds the injected adapter to <paramref name="layer"/> (PEFT's <c>update_layer</c>).</summary>
    protected abstract void UpdateLayer(TunerInjection<TConfig> injection, string path, TLayer layer);

    /// <summary>The adapter object over <paramref name="layers"/>, once every target holds the adapter.</summary>
    protected abstract IAdapter CreateAdapter(TunerInjection<TConfig> injection, List<(string Path, TLayer Layer)> layers);

    /// <summary>The input and output features of a target: a linear layer, or this method's layer around one.</summary>
    protected static (long In, long Out) FeaturesOf(nn.Module target) =>
        target is LinearTunerLayer layer ? (layer.InFeatures, layer.OutFeatures) : LinearLayers.Features(target);

    /// <summary>
    /// Fills in the family's defaults for a missing <c>target_modules</c> and expands "all-linear" into the names of the
    /// model's linear layers but <c>lm_head</c> (PEFT's <c>_maybe_include_all_linear_layers</c>), writing either back.
    /// </summary>
    private void ResolveTargetModules(TConfig config, IEnumerable<string> linearPaths, string modelType)
    {
        if (config.TargetModules is null)
            config.TargetModules = NameList(PeftTargetDefaults.For(DefaultTargetModules, modelType, "target_modules"));
        else if (TargetModulesJson.IsString(config.TargetModules, out string? text)
                 && string.Equals(text, TargetModuleMatcher.AllLinear, StringComparison.OrdinalIgnoreCase))
            config.TargetModules = NameList(TargetModuleMatcher.AllLinearNames(linearPaths));
    }

    private static bool IsOtherMethodsWrapper(nn.Module module) =>
        module.named_children().Any(c => c.name is LinearTunerLayer.BaseLayerName or TargetModuleMatcher.OriginalModuleName);

    private static JsonArray NameList(IEnumerable<string> names) => new(names.Select(n => (JsonNode)JsonValue.Create(n)).ToArray());

    private static string LastSegment(string path) => path[(path.LastIndexOf('.') + 1)..];

    private static string Describe(JsonNode? node) => node is JsonArray a
        ? "[" + string.Join(", ", a.Select(n => n?.ToString())) + "]"
        : node?.ToJsonString() ?? "null";
}

/// <summary>One <see cref="LinearTunerMethod{TConfig, TLayer}.Inject"/> call, as the method's hooks see it.</summary>
/// <param name="Model">The model being adapted.</param>
/// <param name="AdapterName">The adapter's name.</param>
/// <param name="Config">The adapter's config, with <c>target_modules</c> resolved.</param>
/// <param name="Candidates">The model's modules adapters may target (<see cref="TargetModuleMatcher.Candidates"/>), listed before any change.</param>
public sealed record TunerInjection<TConfig>(
    IPeftModelSurface Model, string AdapterName, TConfig Config, IReadOnlyList<(string Path, nn.Module Module)> Candidates)
    where TConfig : PeftConfig
{
    /// <summary>True when the adapter's parameters train (the config is not in inference mode).</summary>
    public bool Trainable => !Config.InferenceMode;
}
