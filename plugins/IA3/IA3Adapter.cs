using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.IA3;

/// <summary>
/// One (IA)³ adapter on a model: its <see cref="IA3Layer"/>s. Saved as PEFT saves it: per adapted module
/// <c>base_model.model.{path}.ia3_l</c> ([out, 1], or [1, in] for feed-forward modules).
/// </summary>
public sealed class IA3Adapter : TunerLayerAdapter<IA3Layer>
{
    internal IA3Adapter(IPeftModelSurface surface, string name, IA3Config config, List<(string Path, IA3Layer Layer)> layers)
        : base(surface, name, config, layers)
    {
        IA3Config = config;
    }

    /// <summary>The typed config.</summary>
    public IA3Config IA3Config { get; }

    /// <inheritdoc />
    public override IEnumerable<(string Key, Parameter Parameter)> NamedParameters() =>
        Layers.Select(l => (AdapterStateDict.Key(l.Path, "ia3_l"), l.Layer.Vector(Name)));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, Tensor> GetState()
    {
        using var _ = no_grad();
        return NamedParameters().ToDictionary(p => p.Key, p => p.Parameter.detach().cpu().clone(), StringComparer.Ordinal);
    }

    /// <inheritdoc />
    /// <remarks>Every key must be present with its shape; problems are reported together, naming key and both shapes.</remarks>
    public override void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        var expected = NamedParameters().ToList();
        AdapterStateDict.ThrowIfAny(AdapterStateDict.Check(state, expected, Name), "IA3", Name);
        foreach (var key in AdapterStateDict.Unexpected(state, expected))
            Surface.Warn($"IA3 adapter '{Name}': unexpected tensor '{key}' ignored");
        AdapterStateDict.CopyInto(state, expected);
    }
}
