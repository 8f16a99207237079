namespace PeftHost.Core.Plugins;

/// <summary>The host's mutable record of one plugin folder. Guarded by the host's lock.</summary>
internal sealed class PluginSlot(PluginCandidate candidate, PluginInfo info)
{
    public PluginCandidate Candidate { get; } = candidate;

    public string Name => Candidate.Name;

    /// <summary>The loaded build, if any. A plugin failed by a throw keeps its build (adapters may still use it) but does not serve.</summary>
    public PluginBuild? Build { get; set; }

    public PluginInfo Info { get; set; } = info;

    public PluginFileWatcher? Watcher { get; set; }

    /// <summary>Stopwatch timestamp of the change that made a reload pending; 0 when none is pending.</summary>
    public long PendingSince { get; set; }

    /// <summary>
    /// The build most recently refused while an older one kept serving (its content hash and the reason),
    /// so one broken rebuild that settles on disk as two changes is refused, and reported, once.
    /// </summary>
    public (string? ContentHash, string Reason)? LastRefusal { get; set; }

    public bool IsServing => Build is not null && Info.IsServing;
}
