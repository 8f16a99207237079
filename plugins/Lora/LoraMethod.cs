using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.Lora;

/// <summary>
/// The LoRA method (<c>lora</c>, peft_type <c>LORA</c>): injects <see cref="LoraLayer"/>s into the linear
/// layers PEFT's matching selects, adds modules_to_save copies, sets the trainable biases, and combines
/// adapters as PEFT's <c>add_weighted_adapter</c> does (see <see cref="LoraCombiner"/>).
/// </summary>
public sealed class LoraMethod : IPeftMethod, IAdapterCombiner
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "lora";

    /// <summary>PEFT's peft_type for LoRA (QLoRA adapters too).</summary>
    public const string LoraPeftType = "LORA";

    /// <inheritdoc />
    public string Name => MethodName;

    /// <inheritdoc />
    public string PeftType => LoraPeftType;

    /// <inheritdoc />
    public string Description => "Low-rank adaptation (LoRA): rsLoRA, DoRA, PiSSA/OLoRA/Gaussian init, mixed-adapter batches, add_weighted_adapter";

    /// <inheritdoc />
    public IReadOnlyList<string> CombinationTypes => LoraCombiner.CombinationTypes;

    /// <inheritdoc />
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<LoraConfig>(source, LoraPeftType);

    /// <inheritdoc />
    /// <remarks>
    /// Resolves <c>target_modules</c> first (a missing value becomes ["q_proj", "v_proj"], PEFT's LLaMA default;
    /// <c>"all-linear"</c> becomes the names of all linear layers except <c>lm_head</c>) and writes the resolved
    /// list back into the config, as PEFT does. Nothing is changed on the model when any check fails.
    /// </remarks>
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        if (config is not LoraConfig lora)
            throw new ArgumentException($"the lora method needs a LoraConfig, got {config.GetType().Name}", nameof(config));
        CheckAdapterName(adapterName);
        lora.Validate();

        var modules = TargetModuleMatcher.Candidates(model).ToList();
        if (modules.Any(m => m.Module is LoraLayer l && l.HasAdapter(adapterName) || m.Module is ModulesToSaveLayer s && s.HasAdapter(adapterName)))
            throw new ArgumentException($"an adapter named '{adapterName}' is already on the model", nameof(adapterName));
        if (lora.Bias != "none" && modules.Any(m => m.Module is LoraLayer l && l.AdapterNames.Count > 0))
            throw new ConfigException("LoRA supports only one adapter with bias; with several adapters set bias to \"none\" for all of them", "bias");

        var targetNames = ResolveTargetNames(lora, modules);
        var matcher = Matcher(lora, targetNames);
        var targets = new List<(string Path, nn.Module Module)>();
        foreach (var (path, module) in modules)
        {
            if (path.Length == 0 || module is ModulesToSaveLayer || !matcher.Matches(path)) continue;
            if (module is not LoraLayer && !LinearLayers.IsLinear(module))
                throw new ConfigException(
                    $"target module '{path}' ({module.GetType().Name}) is not supported: LoRA adapts linear layers only", "target_modules");
            targets.Add((path, module));
        }
        if (targets.Count == 0)
            throw new ConfigException(
                $"target modules {Describe(lora.TargetModules)} not found in the model; available linear modules: {string.Join(", ", LinearNames(modules))}",
                "target_modules");
        var init = lora.InitKind;
        foreach (var (path, module) in targets)
        {
            int r = lora.RankFor(path);
            if (r <= 0) throw new ConfigException($"rank_pattern gives '{path}' rank {r}; ranks must be positive", "rank_pattern");
            var (inFeatures, outFeatures) = module is LoraLayer existing ? (existing.InFeatures, existing.OutFeatures) : LinearLayers.Features(module);
            // B·A has rank at most min(in, out); a rank beyond both sides only allocates (a damaged
            // adapter_config.json asking for r = 2,000,000 must be an error, not gigabytes of zeros).
            if (r > Math.Max(inFeatures, outFeatures))
                throw new ConfigException(
                    $"r = {r} at '{path}' exceeds both of its sizes (in {inFeatures}, out {outFeatures}); a LoRA update there has rank at most {Math.Min(inFeatures, outFeatures)}", "r");
            if (init is LoraInitKind.Pissa or LoraInitKind.Olora && r > Math.Min(inFeatures, outFeatures))
                throw new ConfigException(
                    $"init_lora_weights {lora.InitLoraWeights!.ToJsonString()} needs r <= min(in, out) = {Math.Min(inFeatures, outFeatures)} at '{path}', got r = {r}", "r");
        }
        var savedTargets = ResolveModulesToSave(model, lora, modules);

        if (lora.FanInFanOut)
        {
            model.Warn("fan_in_fan_out is set to true but the target modules are Linear layers; setting fan_in_fan_out to false");
            lora.FanInFanOut = false;
        }

        bool trainable = !lora.InferenceMode;
        var layers = new List<(string Path, LoraLayer Layer)>();
        foreach (var (path, module) in targets)
        {
            var layer = module as LoraLayer ?? new LoraLayer(module, model.Routing);
            var (device, dtype) = AdapterPlacement(layer.BaseLayer, model);
            int r = lora.RankFor(path);
            double alpha = lora.AlphaFor(path);
            var settings = new LoraAdapterSettings(r, alpha, lora.ScalingFor(r, alpha), lora.LoraDropout, lora.UseDora);
            layer.AddAdapter(adapterName, settings, init, device, dtype, trainable);
            if (module is not LoraLayer)
            {
                FreezeBase(layer.BaseLayer);
                model.ReplaceModule(path, layer);
            }
            layers.Add((path, layer));
        }

        var saved = new List<(string Path, ModulesToSaveLayer Layer)>();
        foreach (var (path, module) in savedTargets)
        {
            var wrapper = module as ModulesToSaveLayer;
            if (wrapper is null)
            {
                wrapper = new ModulesToSaveLayer((nn.Module<Tensor, Tensor>)module, model.Routing);
                foreach (var p in module.parameters()) p.requires_grad = false;
                model.ReplaceModule(path, wrapper);
            }
            wrapper.AddAdapter(adapterName, trainable);
            saved.Add((path, wrapper));
        }

        var adapter = new LoraAdapter(model, adapterName, lora, layers, saved);
        if (lora.Bias != "none") adapter.SetTrainable(trainable); // lora_A/B already are; this reaches the biases
        return adapter;
    }

    /// <inheritdoc />
    public IAdapter Combine(IPeftModelSurface model, IReadOnlyList<IAdapter> adapters, IReadOnlyList<double> weights,
        string newName, string combinationType, int? svdRank = null)
    {
        CheckAdapterName(newName);
        var sources = adapters.Select(a => a as LoraAdapter
            ?? throw new ArgumentException($"adapter '{a.Name}' is not a LoRA adapter", nameof(adapters))).ToList();
        if (sources.Any(s => !ReferenceEquals(s.Model, model)))
            throw new ArgumentException("every adapter to combine must live on the given model", nameof(adapters));
        if (TargetModuleMatcher.Candidates(model).Any(m => m.Module is LoraLayer l && l.HasAdapter(newName) || m.Module is ModulesToSaveLayer s && s.HasAdapter(newName)))
            throw new ArgumentException($"an adapter named '{newName}' is already on the model", nameof(newName));
        return LoraCombiner.Combine(model, sources, weights, newName, combinationType, svdRank);
    }

    /// <summary>
    /// The matcher for <paramref name="config"/>. <c>"all-linear"</c> must have been expanded into
    /// <paramref name="resolvedTargetNames"/> (and a missing <c>target_modules</c> into the defaults).
    /// </summary>
    private static TargetModuleMatcher Matcher(LoraConfig config, IReadOnlyList<string>? resolvedTargetNames)
    {
        var names = resolvedTargetNames ?? config.TargetModuleNames;
        string? regex = resolvedTargetNames is null ? config.TargetModuleRegex : null;
        if (names is null && regex is null)
            throw new InvalidOperationException("target_modules must be resolved before matching");
        return new TargetModuleMatcher(names, regex, config.ExcludeModuleNames, config.ExcludeModuleRegex,
            config.LayerIndices, config.LayerPatterns);
    }

    private static void CheckAdapterName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.') || name == IAdapterRouting.BaseModelName)
            throw new ArgumentException($"'{name}' is not a valid adapter name (non-empty, no '.', not '{IAdapterRouting.BaseModelName}')", nameof(name));
    }

    /// <summary>
    /// The list of names to match with: null when target_modules is a regex; the defaults when it is missing;
    /// the last path component of every linear layer but <c>lm_head</c> for "all-linear" (PEFT's
    /// <c>_maybe_include_all_linear_layers</c>). Resolved lists are written back into the config.
    /// </summary>
    private static IReadOnlyList<string>? ResolveTargetNames(LoraConfig lora, IReadOnlyList<(string Path, nn.Module Module)> modules)
    {
        if (lora.TargetModules is null)
        {
            lora.TargetModules = new JsonArray(LoraConfig.DefaultTargetModules.Select(n => (JsonNode)n).ToArray());
            return LoraConfig.DefaultTargetModules;
        }
        if (!lora.IsAllLinear) return null;
        var names = modules
            .Where(m => m.Path.Length > 0 && m.Path != "lm_head" && (m.Module is LoraLayer || LinearLayers.IsLinear(m.Module)))
            .Select(m => m.Path[(m.Path.LastIndexOf('.') + 1)..])
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        lora.TargetModules = new JsonArray(names.Select(n => (JsonNode)n).ToArray());
        return names;
    }

    /// <summary>
    /// Modules named by modules_to_save (a path equal to an entry or ending in "." + entry); each must be a
    /// linear layer or an embedding table that a <see cref="ModulesToSaveLayer"/> can wrap.
    /// </summary>
    private static List<(string Path, nn.Module Module)> ResolveModulesToSave(IPeftModelSurface model, LoraConfig lora,
        IReadOnlyList<(string Path, nn.Module Module)> modules)
    {
        var result = new List<(string Path, nn.Module Module)>();
        if (lora.ModulesToSave is not { Count: > 0 } names) return result;
        foreach (var name in names)
        {
            var found = modules.Where(m => m.Path.Length > 0 && (m.Path == name || m.Path.EndsWith("." + name, StringComparison.Ordinal))).ToList();
            if (found.Count == 0)
            {
                if (name == "lm_head" || name.EndsWith(".lm_head", StringComparison.Ordinal))
                    throw new ConfigException(
                        $"modules_to_save: '{name}' is tied to model.embed_tokens in this model (tie_word_embeddings) and has no weights of its own; " +
                        "save 'embed_tokens' instead (it trains the input side; merging unties the model)", "modules_to_save");
                model.Warn($"modules_to_save: no module named '{name}' in the model");
                continue;
            }
            bool tiedTable = found.Any(m => m.Path.EndsWith("embed_tokens", StringComparison.Ordinal)) && !modules.Any(m => m.Path == "lm_head");
            if (tiedTable && lora.EnsureWeightTying)
                throw new ConfigException(
                    "ensure_weight_tying: keeping a tied lm_head on the trained embed_tokens copy is not supported by PeftHost's LoRA " +
                    "(without it the copy trains the input side only, and merging unties the model)", "ensure_weight_tying");
            if (tiedTable)
                model.Warn("modules_to_save: the model ties lm_head to embed_tokens; the adapter's copy of embed_tokens trains the input side only " +
                    "(lm_head keeps the base table), and merging it unties the model (lm_head saved on its own, tie_word_embeddings: false)");
            foreach (var (path, module) in found)
            {
                if (module is LoraLayer)
                    throw new ConfigException($"modules_to_save: '{path}' already holds LoRA adapters; a module cannot be both a LoRA target and saved whole", "modules_to_save");
                if (module is not ModulesToSaveLayer && !ModulesToSaveLayer.CanCopy(module))
                    throw new ConfigException(
                        $"modules_to_save: '{path}' ({module.GetType().Name}) is neither a linear layer nor an embedding table", "modules_to_save");
                result.Add((path, module));
            }
        }
        return result;
    }

    /// <summary>Where a new adapter's tensors go: the base weight's device and dtype, or float32 on the model's device for quantized layers.</summary>
    private static (Device Device, ScalarType Dtype) AdapterPlacement(nn.Module baseLayer, IPeftModelSurface model) => baseLayer switch
    {
        Linear l when l.weight!.is_floating_point() => (l.weight.device, l.weight.dtype),
        _ => (model.Device, ScalarType.Float32),
    };

    private static void FreezeBase(nn.Module baseLayer)
    {
        if (baseLayer is Linear l) l.weight!.requires_grad = false;
    }

    private static IEnumerable<string> LinearNames(IEnumerable<(string Path, nn.Module Module)> modules) => modules
        .Where(m => m.Path.Length > 0 && (m.Module is LoraLayer || LinearLayers.IsLinear(m.Module)))
        .Select(m => m.Path[(m.Path.LastIndexOf('.') + 1)..])
        .Distinct(StringComparer.Ordinal);

    private static string Describe(JsonNode? node) => node is JsonArray a
        ? "[" + string.Join(", ", a.Select(n => n?.ToString())) + "]"
        : node?.ToJsonString() ?? "null";
}
