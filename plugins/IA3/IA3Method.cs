using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Plugins.IA3;

/// <summary>
/// The (IA)³ method (<c>ia3</c>, peft_type <c>IA3</c>): wraps the target linear layers in <see cref="IA3Layer"/>s
/// with a learned vector each, scaling the output of attention projections and the input of feed-forward
/// projections, as PEFT's <c>IA3Model</c> does.
/// </summary>
public sealed class IA3Method : IPeftMethod
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "ia3";

    /// <summary>PEFT's peft_type.</summary>
    public const string IA3PeftType = "IA3";

    /// <inheritdoc />
    public string Name => MethodName;

    /// <inheritdoc />
    public string PeftType => IA3PeftType;

    /// <inheritdoc />
    public string Description => "(IA)³: learned vectors scaling k_proj/v_proj outputs and down_proj inputs; mergeable, mixed-adapter batches";

    /// <inheritdoc />
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<IA3Config>(source, IA3PeftType);

    /// <inheritdoc />
    /// <remarks>
    /// Missing <c>target_modules</c> / <c>feedforward_modules</c> become PEFT's llama defaults
    /// (["k_proj", "v_proj", "down_proj"] / ["down_proj"]) and are written back into the config. A layer is a
    /// feed-forward layer when its path ends with a <c>feedforward_modules</c> entry (PEFT's <c>endswith</c>), or
    /// fully matches a <c>feedforward_modules</c> regex. Nothing changes on the model when a check fails.
    /// </remarks>
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        if (config is not IA3Config ia3)
            throw new ArgumentException($"the ia3 method needs an IA3Config, got {config.GetType().Name}", nameof(config));
        ia3.Validate();
        var modules = TargetModuleMatcher.Candidates(model);
        if (modules.Any(m => m.Module is IA3Layer l && l.HasAdapter(adapterName)))
            throw new ArgumentException($"an adapter named '{adapterName}' is already on the model", nameof(adapterName));

        bool feedforwardGiven = ia3.FeedforwardModules is not null;
        ia3.TargetModules ??= Names(IA3Config.DefaultTargetModules);
        var linearPaths = modules.Where(m => LinearLayers.IsLinear(m.Module) || m.Module is IA3Layer).Select(m => m.Path).ToList();
        var matcher = TargetModuleMatcher.FromJson(ia3.TargetModules, ia3.ExcludeModules, linearPaths);
        if (TargetModulesJson.IsString(ia3.TargetModules, out string? text) && text == TargetModuleMatcher.AllLinear)
            ia3.TargetModules = Names(linearPaths.Where(p => p != "lm_head").Select(p => p[(p.LastIndexOf('.') + 1)..]).Distinct().Order(StringComparer.Ordinal));
        // PEFT fills in its llama default; keep only the defaults that are targets, so the saved config stays
        // valid (PEFT refuses feedforward_modules that are not a subset of target_modules when loading).
        ia3.FeedforwardModules ??= ia3.TargetModules is JsonArray targetList
            ? Names(IA3Config.DefaultFeedforwardModules.Where(n => TargetModulesJson.Strings(targetList, "target_modules")!.Contains(n)))
            : Names(IA3Config.DefaultFeedforwardModules);
        if (feedforwardGiven && ia3.FeedforwardModules is JsonArray && ia3.TargetModules is JsonArray)
            ia3.Validate(); // the subset rule, now that all-linear is resolved
        Func<string, bool> isFeedforward = TargetModulesJson.IsString(ia3.FeedforwardModules, out string? ffRegex)
            ? ModulePattern.FullMatch(ffRegex!, "feedforward_modules").IsMatch
            : FeedforwardSuffixes(TargetModulesJson.Strings(ia3.FeedforwardModules, "feedforward_modules")!);

        var targets = new List<(string Path, nn.Module Module, bool Feedforward)>();
        foreach (var (path, module) in modules)
        {
            if (!matcher.Matches(path)) continue;
            if (module is not IA3Layer && !LinearLayers.IsLinear(module))
                throw new ConfigException(
                    $"target module '{path}' ({module.GetType().Name}) is not supported: IA3 adapts linear layers only" +
                    (module.named_children().Any(c => c.name == "base_layer") ? " (it is already adapted by another method)" : ""),
                    "target_modules");
            bool ff = isFeedforward(path);
            if (module is IA3Layer existing && existing.IsFeedforward != ff)
                throw new ConfigException(
                    $"'{path}' is a {(existing.IsFeedforward ? "feed-forward" : "non-feed-forward")} IA3 layer for its other adapters; feedforward_modules must agree",
                    "feedforward_modules");
            targets.Add((path, module, ff));
        }
        if (targets.Count == 0)
            throw new ConfigException(
                $"target modules {ia3.TargetModules.ToJsonString()} not found in the model; linear modules: {string.Join(", ", linearPaths.Take(12))}" +
                (linearPaths.Count > 12 ? ", …" : ""), "target_modules");

        bool trainable = !ia3.InferenceMode;
        var layers = new List<(string Path, IA3Layer Layer)>(targets.Count);
        foreach (var (path, module, ff) in targets)
        {
            var layer = module as IA3Layer;
            if (layer is null)
            {
                layer = new IA3Layer(module, ff, model.Routing);
                model.ReplaceModule(path, layer);
            }
            layer.AddAdapter(adapterName, ia3.InitIa3Weights, model.Device, trainable);
            layers.Add((path, layer));
        }
        return new IA3Adapter(model, adapterName, ia3, layers);
    }

    private static Func<string, bool> FeedforwardSuffixes(IReadOnlyList<string> names) =>
        path => names.Any(n => path.EndsWith(n, StringComparison.Ordinal));

    private static JsonArray Names(IEnumerable<string> names) => new(names.Select(n => (JsonNode)JsonValue.Create(n)).ToArray());
}
