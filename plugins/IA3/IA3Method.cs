using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Plugins.IA3;

/// <summary>
/// The (IA)³ method (<c>ia3</c>, peft_type <c>IA3</c>): wraps the target linear layers in <see cref="IA3Layer"/>s
/// with a learned vector each, scaling the output of attention projections and the input of feed-forward
/// projections, as PEFT's <c>IA3Model</c> does. Listing, matching and replacement are the SDK driver's.
/// </summary>
public sealed class IA3Method : LinearTunerMethod<IA3Config, IA3Layer>
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "ia3";

    /// <summary>PEFT's peft_type.</summary>
    public const string IA3PeftType = "IA3";

    /// <inheritdoc />
    public override string Name => MethodName;

    /// <inheritdoc />
    public override string PeftType => IA3PeftType;

    /// <inheritdoc />
    public override string Description => "(IA)³: learned vectors scaling k_proj/v_proj outputs and down_proj inputs; mergeable, mixed-adapter batches";

    /// <inheritdoc />
    protected override string DisplayName => "IA3";

    /// <inheritdoc />
    protected override IReadOnlyDictionary<string, IReadOnlyList<string>> DefaultTargetModules => PeftTargetDefaults.IA3;

    /// <inheritdoc />
    /// <remarks>
    /// A missing <c>feedforward_modules</c> becomes PEFT's default for the family (["down_proj"]), kept to the entries that
    /// are targets so the saved config stays valid (PEFT refuses feedforward_modules that are not a subset of
    /// target_modules when loading), and is written back; the subset rule is checked again now that
    /// <c>target_modules</c> is resolved.
    /// </remarks>
    protected override void Prepare(TunerInjection<IA3Config> injection)
    {
        var ia3 = injection.Config;
        var defaults = ia3.FeedforwardModules is null
            ? PeftTargetDefaults.For(PeftTargetDefaults.IA3Feedforward, injection.Model.ModelType, "feedforward_modules") : [];
        ia3.FeedforwardModules ??= ia3.TargetModules is JsonArray targetList
            ? Names(defaults.Where(n => TargetModulesJson.Strings(targetList, "target_modules")!.Contains(n)))
            : Names(defaults);
        ia3.Validate();
    }

    /// <inheritdoc />
    /// <remarks>A layer that already holds IA3 adapters keeps its kind: feedforward_modules must agree with it.</remarks>
    protected override void CheckTarget(TunerInjection<IA3Config> injection, string path, nn.Module target)
    {
        if (target is IA3Layer existing && existing.IsFeedforward != injection.Config.IsFeedforward(path))
            throw new ConfigException(
                $"'{path}' is a {(existing.IsFeedforward ? "feed-forward" : "non-feed-forward")} IA3 layer for its other adapters; feedforward_modules must agree",
                "feedforward_modules");
    }

    /// <inheritdoc />
    protected override IA3Layer CreateLayer(TunerInjection<IA3Config> injection, string path, nn.Module target) =>
        new(target, injection.Config.IsFeedforward(path), injection.Model.Routing);

    /// <inheritdoc />
    protected override void UpdateLayer(TunerInjection<IA3Config> injection, string path, IA3Layer layer) =>
        layer.AddAdapter(injection.AdapterName, injection.Config.InitIa3Weights, injection.Model.Device, injection.Trainable);

    /// <inheritdoc />
    protected override IAdapter CreateAdapter(TunerInjection<IA3Config> injection, List<(string Path, IA3Layer Layer)> layers) =>
        new IA3Adapter(injection.Model, injection.AdapterName, injection.Config, layers);

    private static JsonArray Names(IEnumerable<string> names) => new(names.Select(n => (JsonNode)JsonValue.Create(n)).ToArray());
}
