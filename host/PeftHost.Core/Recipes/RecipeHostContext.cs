using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Telemetry;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes;

/// <summary>
/// What the host lends a recipe run: where PEFT methods and quantizers come from (the plugin host
/// in production, fixed lists in tests) and the event bus that carries its logs and progress.
/// </summary>
public sealed class RecipeHostContext
{
    /// <summary>The PEFT methods <c>getPeftModel</c> and <c>loadAdapter</c> can use.</summary>
    public required IMethodCatalog Methods { get; init; }

    /// <summary>
    /// Where <c>quantize</c> and <c>loadModel</c> (of a quantized folder) find quantizers (<c>nf4</c>…):
    /// the plugin host's in production, a fixed registry in tests.
    /// </summary>
    public IQuantizerResolver Quantizers { get; init; } = new QuantizerRegistry([]);

    /// <summary>Receives the recipe's log lines, tables and the steps' progress.</summary>
    public EventBus Events { get; init; } = new();

    /// <summary>
    /// Called at each training step boundary on the job thread, before the recipe's handlers: where
    /// the host applies pending plugin reloads. Returns true when adapters were re-created (the run
    /// then trains the new parameters). Null: nothing to do.
    /// </summary>
    public Func<bool>? AtStepBoundary { get; init; }

    /// <summary>
    /// Called when the recipe creates a PEFT model, so the host can take it into hot reloads; the
    /// returned registration is disposed when the run ends. Null: not tracked.
    /// </summary>
    public Func<PeftModel, IDisposable?>? TrackPeftModel { get; init; }

    /// <summary>
    /// A run's context against <paramref name="plugins"/>: its methods and quantizers. With <paramref name="hotReload"/>,
    /// the run's PEFT models take part in the plugin host's reloads, applied at each step boundary by
    /// <paramref name="atStepBoundary"/> (default: the host's pending reloads).
    /// </summary>
    public static RecipeHostContext ForPlugins(PluginHost plugins, EventBus events, bool hotReload, Func<bool>? atStepBoundary = null) => new()
    {
        Methods = plugins,
        Quantizers = plugins,
        Events = events,
        AtStepBoundary = !hotReload ? null : atStepBoundary ?? (() => plugins.HasPendingReloads && plugins.ApplyPendingReloads().Count > 0),
        TrackPeftModel = hotReload ? peft => plugins.RegisterReloadParticipant(peft) : null,
    };
}
