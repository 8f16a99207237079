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
public sealed class AdaLoraMethod : LinearTunerMethod<AdaLoraConfig, AdaLoraLayer>
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "adalora";

    /// <summary>PEFT's peft_type.</summary>
    public const string AdaLoraPeftType = "ADALORA";

    /// <inheritdoc />
    public override string Name => MethodName;

    /// <inheritdoc />
    public override string PeftType => AdaLoraPeftType;

    /// <inheritdoc />
    public override string Description => "AdaLoRA: SVD-form LoRA whose ranks are pruned to a budget by importance (RankAllocator, orthogonal regulariser)";

    /// <inheritdoc />
    protected override string DisplayName => "AdaLoRA";

    /// <inheritdoc />
    protected override IReadOnlyDictionary<string, IReadOnlyList<string>> DefaultTargetModules => PeftTargetDefaults.AdaLora;

    /// <inheritdoc />
    /// <remarks>PEFT's camelCase key <c>deltaT</c> (also accepted as <c>delta_t</c>) is read here, since the binder expects snake_case.</remarks>
    public override PeftConfig BindConfig(ConfigSource source)
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
    /// <remarks>AdaLoRA allocates ranks for one trainable adapter: a second one must come in inference mode.</remarks>
    protected override void Prepare(TunerInjection<AdaLoraConfig> injection)
    {
        if (injection.Config.InferenceMode) return;
        foreach (var (_, module) in injection.Candidates)
        {
            if (module is AdaLoraLayer layer && layer.AdapterNames.FirstOrDefault(n => !layer.Settings(n).Config.InferenceMode) is { } trainable)
                throw new ConfigException(
                    $"AdaLoRA supports only one trainable adapter per model; '{trainable}' is " +
                    "trainable already (load or add the others with inference_mode true)", "inference_mode");
        }
    }

    /// <inheritdoc />
    /// <remarks>A <c>rank_pattern</c> entry for the target must have one flag per initial triplet.</remarks>
    protected override void CheckTarget(TunerInjection<AdaLoraConfig> injection, string path, nn.Module target)
    {
        var ada = injection.Config;
        if (ada.ReadRankPattern() is { } pattern && pattern.TryGetValue(RankAllocator.PatternKey(path), out var keep) && keep.Length != ada.InitR)
            throw new ConfigException($"rank_pattern['{RankAllocator.PatternKey(path)}'] has {keep.Length} entries but init_r is {ada.InitR}", "rank_pattern");
    }

    /// <inheritdoc />
    protected override AdaLoraLayer CreateLayer(TunerInjection<AdaLoraConfig> injection, string path, nn.Module target) =>
        new(target, injection.Model.Routing);

    /// <inheritdoc />
    /// <remarks>
    /// Each module gets <c>init_r</c> triplets. An inference-mode adapter whose config carries a <c>rank_pattern</c>
    /// (a saved, pruned adapter being loaded) gets only the triplets the pattern keeps, as PEFT's
    /// <c>resize_modules_by_rank_pattern</c> does; a trainable one keeps the full <c>init_r</c> layout (pruned tensors
    /// are scattered into the kept positions, dropped triplets have E = 0), so the allocator and the pattern go on
    /// working — when training resumes or across a plugin hot reload. <c>ranknum</c> is <c>init_r</c> either way, as
    /// PEFT's resize keeps it.
    /// </remarks>
    protected override void UpdateLayer(TunerInjection<AdaLoraConfig> injection, string path, AdaLoraLayer layer)
    {
        var ada = injection.Config;
        int rank = ada.InferenceMode && ada.ReadRankPattern() is { } pattern && pattern.TryGetValue(RankAllocator.PatternKey(path), out var keep)
            ? keep.Count(k => k)
            : ada.InitR;
        var settings = new AdaLoraSettings(ada.Scaling, ada.InitR, ada.LoraDropout, ada);
        layer.AddAdapter(injection.AdapterName, rank, settings, ada.InitWeights, injection.Model.Device, injection.Trainable);
    }

    /// <inheritdoc />
    protected override IAdapter CreateAdapter(TunerInjection<AdaLoraConfig> injection, List<(string Path, AdaLoraLayer Layer)> layers)
    {
        var ada = injection.Config;
        if (ada.R != 8 && !ada.InferenceMode)
            injection.Model.Warn($"adalora: r ({ada.R}) is not used by AdaLoRA and is ignored; the initial rank is init_r ({ada.InitR})");
        return new AdaLoraAdapter(injection.Model, injection.AdapterName, ada, layers);
    }
}
