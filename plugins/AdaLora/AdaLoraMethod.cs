using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Plugins.AdaLora;

/// <summary>
/// The AdaLoRA method (<c>adalora</c>, peft_type <c>ADALORA</c>): wraps the target linear layers in
/// <see cref="AdaLoraLayer"/>s (SVD-form ΔW = P·Λ·Q), registers the orthogonal regulariser as a loss term and
/// the rank allocation as a per-step training hook, as PEFT's <c>AdaLoraModel</c> does.
/// </summary>
public sealed class AdaLoraMethod : IPeftMethod
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "adalora";

    /// <summary>PEFT's peft_type.</summary>
    public const string AdaLoraPeftType = "ADALORA";

    /// <inheritdoc />
    public string Name => MethodName;

    /// <inheritdoc />
    public string PeftType => AdaLoraPeftType;

    /// <inheritdoc />
    public string Description => "AdaLoRA: SVD-form LoRA whose ranks are pruned to a budget by importance (RankAllocator, orthogonal regulariser)";

    /// <inheritdoc />
    /// <remarks>PEFT's camelCase key <c>deltaT</c> (also accepted as <c>delta_t</c>) is read here, since the binder expects snake_case.</remarks>
    public PeftConfig BindConfig(ConfigSource source)
    {
        var values = (JsonObject)source.Values.DeepClone();
        JsonNode? deltaT = null;
        string? deltaKey = null;
        foreach (var key in values.Select(kv => kv.Key).ToList())
        {
            if (KeyNames.ToSnake(key) != "delta_t") continue;
            if (deltaKey is not null)
                throw new ConfigException($"{source.Origin}: both '{deltaKey}' and '{key}' given", key);
            deltaKey = key;
            deltaT = values[key]?.DeepClone();
            values.Remove(key);
        }
        var config = ConfigBinder.Bind<AdaLoraConfig>(source with { Values = values }, AdaLoraPeftType);
        if (deltaKey is not null)
        {
            try
            {
                if (deltaT is null) throw new FormatException();
                config.DeltaT = checked((int)JsonNumbers.ToInt64(deltaT));
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException or OverflowException)
            {
                throw new ConfigException($"option '{deltaKey}' must be an integer, got {deltaT?.ToJsonString() ?? "null"}", deltaKey);
            }
            config.Validate();
        }
        return config;
    }

    /// <inheritdoc />
    /// <remarks>
    /// A missing <c>target_modules</c> becomes ["q_proj", "v_proj"] (PEFT's llama default) and is written back into
    /// the config. Each module gets <c>init_r</c> triplets. An inference-mode adapter whose config carries a
    /// <c>rank_pattern</c> (a saved, pruned adapter being loaded) gets only the triplets the pattern keeps, as PEFT's
    /// <c>resize_modules_by_rank_pattern</c> does; a trainable one keeps the full <c>init_r</c> layout (pruned tensors
    /// are scattered into the kept positions, dropped triplets have E = 0), so the allocator and the pattern go on
    /// working — when training resumes or across a plugin hot reload. <c>ranknum</c> is <c>init_r</c> either way, as
    /// PEFT's resize keeps it. Nothing changes on the model when a check fails.
    /// </remarks>
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        if (config is not AdaLoraConfig ada)
            throw new ArgumentException($"the adalora method needs an AdaLoraConfig, got {config.GetType().Name}", nameof(config));
        ada.Validate();
        var modules = TargetModuleMatcher.Candidates(model);

        foreach (var (_, module) in modules)
        {
            if (module is not AdaLoraLayer layer) continue;
            if (layer.HasAdapter(adapterName))
                throw new ArgumentException($"an adapter named '{adapterName}' is already on the model", nameof(adapterName));
            if (!ada.InferenceMode && layer.AdapterNames.Any(n => !layer.Settings(n).Config.InferenceMode))
                throw new ConfigException(
                    $"AdaLoRA supports only one trainable adapter per model; '{layer.AdapterNames.First(n => !layer.Settings(n).Config.InferenceMode)}' is " +
                    "trainable already (load or add the others with inference_mode true)", "inference_mode");
        }

        ada.TargetModules ??= new JsonArray(AdaLoraConfig.DefaultTargetModules.Select(n => (JsonNode)JsonValue.Create(n)).ToArray());
        var linearPaths = modules.Where(m => LinearLayers.IsLinear(m.Module) || m.Module is AdaLoraLayer).Select(m => m.Path).ToList();
        var matcher = TargetModuleMatcher.FromJson(ada.TargetModules, ada.ExcludeModules, linearPaths, ada.LayerIndices, ada.LayerPatterns);
        var pattern = ada.ReadRankPattern();
        var targets = new List<(string Path, nn.Module Module, int Rank)>();
        foreach (var (path, module) in modules)
        {
            if (!matcher.Matches(path)) continue;
            if (module is not AdaLoraLayer && !LinearLayers.IsLinear(module))
                throw new ConfigException(
                    $"target module '{path}' ({module.GetType().Name}) is not supported: AdaLoRA adapts linear layers only" +
                    (module.named_children().Any(c => c.name == "base_layer") ? " (it is already adapted by another method)" : ""),
                    "target_modules");
            int rank = ada.InitR;
            if (pattern is not null && pattern.TryGetValue(RankAllocator.PatternKey(path), out var keep))
            {
                if (keep.Length != ada.InitR)
                    throw new ConfigException($"rank_pattern['{RankAllocator.PatternKey(path)}'] has {keep.Length} entries but init_r is {ada.InitR}", "rank_pattern");
                if (ada.InferenceMode) rank = keep.Count(k => k);
            }
            targets.Add((path, module, rank));
        }
        if (targets.Count == 0)
            throw new ConfigException(
                $"target modules {ada.TargetModules.ToJsonString()} not found in the model; linear modules: {string.Join(", ", linearPaths.Take(12))}" +
                (linearPaths.Count > 12 ? ", …" : ""), "target_modules");
        if (TargetModulesJson.IsString(ada.TargetModules, out string? text) && text == TargetModuleMatcher.AllLinear)
            ada.TargetModules = new JsonArray(targets.Select(t => t.Path[(t.Path.LastIndexOf('.') + 1)..]).Distinct().Order(StringComparer.Ordinal)
                .Select(n => (JsonNode)JsonValue.Create(n)).ToArray());

        if (ada.R != 8 && !ada.InferenceMode)
            model.Warn($"adalora: r ({ada.R}) is not used by AdaLoRA and is ignored; the initial rank is init_r ({ada.InitR})");
        var settings = new AdaLoraSettings(ada.Scaling, ada.InitR, ada.LoraDropout, ada);
        bool trainable = !ada.InferenceMode;
        var layers = new List<(string Path, AdaLoraLayer Layer)>(targets.Count);
        foreach (var (path, module, rank) in targets)
        {
            var layer = module as AdaLoraLayer;
            if (layer is null)
            {
                layer = new AdaLoraLayer(module, model.Routing);
                model.ReplaceModule(path, layer);
            }
            layer.AddAdapter(adapterName, rank, settings, ada.InitWeights, model.Device, trainable);
            layers.Add((path, layer));
        }
        return new AdaLoraAdapter(model, adapterName, ada, layers);
    }
}
