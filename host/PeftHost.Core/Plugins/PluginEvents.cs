using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Plugins;

/// <summary>A plugin was loaded for the first time and serves its methods.</summary>
/// <param name="Plugin">The plugin as it now stands.</param>
public sealed record PluginLoadedEvent(PluginInfo Plugin) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => PluginHost.EventSource;
}

/// <summary>A plugin's rebuilt assembly replaced the old one at a step boundary and its adapters were re-injected.</summary>
/// <param name="Plugin">The plugin as it now stands.</param>
/// <param name="PreviousVersion">The version that was running before.</param>
/// <param name="ChangeToReinjectMs">
/// Milliseconds from the first file change seen (or the reload request) to the end of re-injection:
/// the debounce, the wait for the next step boundary, loading and re-attaching together.
/// </param>
/// <param name="ApplyMs">Milliseconds the swap itself took at the step boundary (load, detach, unload, re-attach).</param>
/// <param name="Reattached">How many participants re-attached something to the new build.</param>
public sealed record PluginReloadedEvent(PluginInfo Plugin, string? PreviousVersion, double ChangeToReinjectMs, double ApplyMs, int Reattached) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => PluginHost.EventSource;
}

/// <summary>
/// A plugin failed: at load, at a hot reload, or when its code threw. When
/// <paramref name="StillServing"/> is true a reload was refused and the previous build runs on.
/// </summary>
/// <param name="Plugin">The plugin as it now stands.</param>
/// <param name="Reason">What went wrong, in one line.</param>
/// <param name="StillServing">True when the previous build keeps serving (a refused reload).</param>
/// <param name="AttemptedVersion">The version of the build that was refused or failed to load; null when it could not be read.</param>
public sealed record PluginFailedEvent(PluginInfo Plugin, string Reason, bool StillServing = false, string? AttemptedVersion = null) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => PluginHost.EventSource;
}
