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
public sealed class LoraMethod : LinearTunerMethod<LoraConfig, LoraLayer>, IAdapterCombiner
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "lora";

    /// <summary>PEFT's peft_type for LoRA (QLoRA adapters too).</summary>
    public const string LoraPeftType = "LORA";

    /// <inheritdoc />
    public override string Name => MethodName;

    /// <inheritdoc />
    public override string PeftType => LoraPeftType;

    /// <inheritdoc />
    public override string Description => "Low-rank adaptation (LoRA): rsLoRA, DoRA, PiSSA/OLoRA/Gaussian init, mixed-adapter batches, add_weighted_adapter";

    /// <inheritdoc />
    public IReadOnlyList<string> CombinationTypes => LoraCombiner.CombinationTypes;

    /// <inheritdoc />
    protected override string DisplayName => "LoRA";

    /// <inheritdoc />
    protected override IReadOnlyDictionary<string, IReadOnlyList<string>> DefaultTargetModules => PeftTargetDefaults.Lora;

    /// <inheritdoc />
    public IAdapter Combine(IPeftModelSurface model, IReadOnlyList<IAdapter> adapters, IReadOnlyList<double> weights,
        string newName, string combinationType, int? svdRank = null)
    {
        var sources = adapters.Select(a => a as LoraAdapter
            ?? throw new ArgumentException($"adapter '{a.Name}' is not a LoRA adapter", nameof(adapters))).ToList();
        if (sources.Any(s => !ReferenceEquals(s.Model, model)))
            throw new ArgumentException("every adapter to combine must live on the given model", nameof(adapters));
        if (IsOnModel(model, newName))
            throw new ArgumentException($"an adapter named '{newName}' is already on the model", nameof(newName));
        return LoraCombiner.Combine(model, sources, weights, newName, combinationType, svdRank);
    }

    /// <inheritdoc />
    /// <remarks>A modules_to_save copy holds adapters too.</remarks>
    protected override bool HoldsAdapter(nn.Module module, string adapterName) =>
        base.HoldsAdapter(module, adapterName) || module is ModulesToSaveLayer saved && saved.HasAdapter(adapterName);

    /// <inheritdoc />
    /// <remarks>A modules_to_save copy is never a LoRA target.</remarks>
    protected override bool PassesOver(nn.Module module) => module is ModulesToSaveLayer;

    /// <inheritdoc />
    /// <remarks>Refuses a second adapter with a trainable bias, and modules_to_save entries a copy cannot be made of.</remarks>
    protected override void Prepare(TunerInjection<LoraConfig> injection)
    {
        var lora = injection.Config;
        if (lora.Bias != "none" && injection.Candidates.Any(m => m.Module is LoraLayer l && l.AdapterNames.Count > 0))
            throw new ConfigException("LoRA supports only one adapter with bias; with several adapters set bias to \"none\" for all of them", "bias");
        _ = ResolveModulesToSave(injection, warn: false);
    }

    /// <inheritdoc />
    /// <remarks>The rank <c>rank_pattern</c> gives the target must fit its sizes (and PiSSA/OLoRA's SVD).</remarks>
    protected override void CheckTarget(TunerInjection<LoraConfig> injection, string path, nn.Module target)
    {
        var lora = injection.Config;
        int r = lora.RankFor(path);
        if (r <= 0) throw new ConfigException($"rank_pattern gives '{path}' rank {r}; ranks must be positive", "rank_pattern");
        var (inFeatures, outFeatures) = FeaturesOf(target);
        // B·A has rank at most min(in, out); a rank beyond both sides only allocates (a damaged
        // adapter_config.json asking for r = 2,000,000 must be an error, not gigabytes of zeros).
        if (r > Math.Max(inFeatures, outFeatures))
            throw new ConfigException(
                $"r = {r} at '{path}' exceeds both of its sizes (in {inFeatures}, out {outFeatures}); a LoRA update there has rank at most {Math.Min(inFeatures, outFeatures)}", "r");
        if (lora.InitKind is LoraInitKind.Pissa or LoraInitKind.Olora && r > Math.Min(inFeatures, outFeatures))
            throw new ConfigException(
                $"init_lora_weights {lora.InitLoraWeights!.ToJsonString()} needs r <= min(in, out) = {Math.Min(inFeatures, outFeatures)} at '{path}', got r = {r}", "r");
    }

    /// <inheritdoc />
    protected override LoraLayer CreateLayer(TunerInjection<LoraConfig> injection, string path, nn.Module target)
    {
        if (target is Linear linear) linear.weight!.requires_grad = false;
        return new LoraLayer(target, injection.Model.Routing);
    }

    /// <inheritdoc />
    protected override void UpdateLayer(TunerInjection<LoraConfig> injection, string path, LoraLayer layer)
    {
        var lora = injection.Config;
        var (device, dtype) = AdapterPlacement(layer.BaseLayer, injection.Model);
        int r = lora.RankFor(path);
        double alpha = lora.AlphaFor(path);
        var settings = new LoraAdapterSettings(r, alpha, lora.ScalingFor(r, alpha), lora.LoraDropout, lora.UseDora);
        layer.AddAdapter(injection.AdapterName, settings, lora.InitKind, device, dtype, injection.Trainable);
    }

    /// <inheritdoc />
    /// <remarks>Adds the modules_to_save copies, turns off fan_in_fan_out (PEFT's warning) and makes the bias mode's biases trainable.</remarks>
    protected override IAdapter CreateAdapter(TunerInjection<LoraConfig> injection, List<(string Path, LoraLayer Layer)> layers)
    {
        var (model, adapterName, lora, _) = injection;
        if (lora.FanInFanOut)
        {
            model.Warn("fan_in_fan_out is set to true but the target modules are Linear layers; setting fan_in_fan_out to false");
            lora.FanInFanOut = false;
        }
        var saved = new List<(string Path, ModulesToSaveLayer Layer)>();
        foreach (var (path, module, tieOutput) in ResolveModulesToSave(injection, warn: true))
        {
            var wrapper = module as ModulesToSaveLayer;
            if (wrapper is null)
            {
                wrapper = new ModulesToSaveLayer((nn.Module<Tensor, Tensor>)module, model.Routing);
                foreach (var p in module.parameters()) p.requires_grad = false;
                model.ReplaceModule(path, wrapper);
            }
            wrapper.AddAdapter(adapterName, injection.Trainable);
            if (tieOutput) wrapper.TieOutput(adapterName);
            saved.Add((path, wrapper));
        }

        var adapter = new LoraAdapter(model, adapterName, lora, layers, saved);
        if (lora.Bias != "none") adapter.SetTrainable(injection.Trainable); // lora_A/B already are; this reaches the biases
        return adapter;
    }

    /// <summary>
    /// Modules named by modules_to_save (a path equal to an entry or ending in "." + entry) in the listing taken
    /// before the injection changed anything; each must be a linear layer or an embedding table that a
    /// <see cref="ModulesToSaveLayer"/> can wrap. Checked in <see cref="Prepare"/> and resolved again, with its
    /// warnings, when the copies are made.
    /// </summary>
    private static List<(string Path, nn.Module Module, bool TieOutput)> ResolveModulesToSave(TunerInjection<LoraConfig> injection, bool warn)
    {
        var (model, _, lora, modules) = injection;
        var result = new List<(string Path, nn.Module Module, bool TieOutput)>();
        bool tiedModel = modules.Any(m => m.Path.EndsWith("embed_tokens", StringComparison.Ordinal)) && !modules.Any(m => m.Path == "lm_head");
        if (lora.ModulesToSave is not { Count: > 0 } names)
        {
            if (lora.EnsureWeightTying && warn)
                model.Warn(tiedModel
                    ? "ensure_weight_tying is set, but no tied module (embed_tokens) is in modules_to_save; it has no effect"
                    : "ensure_weight_tying is set, but the model does not tie lm_head to embed_tokens; it has no effect");
            return result;
        }
        foreach (var name in names)
        {
            var found = modules.Where(m => m.Path.Length > 0 && (m.Path == name || m.Path.EndsWith("." + name, StringComparison.Ordinal))).ToList();
            if (found.Count == 0)
            {
                if (name == "lm_head" || name.EndsWith(".lm_head", StringComparison.Ordinal))
                    throw new ConfigException(
                        $"modules_to_save: '{name}' is tied to model.embed_tokens in this model (tie_word_embeddings) and has no weights of its own; " +
                        "save 'embed_tokens' instead, with ensure_weight_tying: true to train both sides", "modules_to_save");
                if (warn) model.Warn($"modules_to_save: no module named '{name}' in the model");
                continue;
            }
            bool tiedTable = tiedModel && found.Any(m => m.Path.EndsWith("embed_tokens", StringComparison.Ordinal));
            if (tiedTable && !lora.EnsureWeightTying && warn)
                model.Warn("modules_to_save: the model ties lm_head to embed_tokens; the adapter's copy of embed_tokens trains the input side only " +
                    "(lm_head keeps the base table), and merging it unties the model (lm_head saved on its own, tie_word_embeddings: false); " +
                    "set ensure_weight_tying: true to train one table for both sides");
            if (lora.EnsureWeightTying && !tiedModel && warn)
                model.Warn("ensure_weight_tying is set, but the model does not tie lm_head to embed_tokens; it has no effect");
            foreach (var (path, module) in found)
            {
                if (module is LoraLayer)
                    throw new ConfigException($"modules_to_save: '{path}' already holds LoRA adapters; a module cannot be both a LoRA target and saved whole", "modules_to_save");
                if (module is not ModulesToSaveLayer && !ModulesToSaveLayer.CanCopy(module))
                    throw new ConfigException(
                        $"modules_to_save: '{path}' is neither a linear layer nor an embedding table", "modules_to_save");
                result.Add((path, module, tiedTable && lora.EnsureWeightTying && path.EndsWith("embed_tokens", StringComparison.Ordinal)));
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
}
