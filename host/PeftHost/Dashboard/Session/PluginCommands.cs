using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>
/// Plugin reloads, game-style: F9 rescans the plugin folders and makes a reload of every plugin
/// pending; the reloads are applied on the job thread at a step boundary — right away when no job
/// runs, at the next training step of a running recipe, or when the current job ends. Rebuilt
/// plugin files (seen by the host's watcher) are applied the same way.
/// </summary>
public sealed class PluginCommands
{
    private readonly JobRunner _jobs;
    private readonly PluginHost _plugins;
    private readonly EventBus _events;
    private int _rescanRequested;

    /// <summary>Reloads for <paramref name="plugins"/>, applied through <paramref name="jobs"/>.</summary>
    public PluginCommands(JobRunner jobs, PluginHost plugins, EventBus events)
    {
        _jobs = jobs;
        _plugins = plugins;
        _events = events;
    }

    /// <summary>True when a reload or rescan waits for a step boundary.</summary>
    public bool HasPendingWork => Volatile.Read(ref _rescanRequested) != 0 || _plugins.HasPendingReloads;

    /// <summary>F9: rescan and reload every plugin at the next step boundary.</summary>
    public CommandResult Reload()
    {
        Interlocked.Exchange(ref _rescanRequested, 1);
        foreach (var p in _plugins.Plugins) _plugins.RequestReload(p.Name);
        if (TryApplyNow()) return CommandResult.Ok("reloading plugins…");
        var current = _jobs.Current;
        return CommandResult.Ok(current?.Kind == JobKind.Recipe
            ? "plugin reload requested: applied at the next training step boundary"
            : $"plugin reload requested: applied when {current?.Name ?? "the current job"} ends");
    }

    /// <summary>Starts a job applying pending work when the runner is idle; false when it is busy (or nothing is pending).</summary>
    public bool TryApplyNow()
    {
        if (!HasPendingWork) return false;
        return _jobs.TryStart(JobKind.Plugins, "reload plugins", _ => { ApplyPending(); }, out _) is not null;
    }

    /// <summary>
    /// The step-boundary hook: rescans when asked and applies pending reloads. Must run on the
    /// job thread. A failed reload is reported (the plugin is marked Failed) and never ends the run.
    /// </summary>
    /// <returns>True when a plugin was swapped (its adapters were re-created: a training run rebinds its parameters).</returns>
    public bool ApplyPending()
    {
        if (Interlocked.Exchange(ref _rescanRequested, 0) != 0)
        {
            int added = _plugins.Rescan();
            if (added > 0) _events.Log(LogLevel.Info, PluginHost.EventSource, $"rescan found {added} new plugin(s)");
        }
        if (!_plugins.HasPendingReloads) return false;
        try
        {
            bool swapped = false;
            foreach (var r in _plugins.ApplyPendingReloads())
            {
                if (r.Outcome == PluginReloadOutcome.Unchanged)
                    _events.Log(LogLevel.Info, PluginHost.EventSource, $"{r.PluginName}: unchanged, nothing to reload");
                swapped |= r.Outcome == PluginReloadOutcome.Reloaded;
            }
            return swapped;
        }
        catch (PluginException e)
        {
            _events.Log(LogLevel.Error, PluginHost.EventSource, e.Message);
            return true; // adapters may have been detached: let the run rebind what is left
        }
    }
}
