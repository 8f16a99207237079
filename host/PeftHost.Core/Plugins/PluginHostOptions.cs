namespace PeftHost.Core.Plugins;

/// <summary>How a <see cref="PluginHost"/> finds and watches plugins.</summary>
public sealed record PluginHostOptions
{
    /// <summary>Folders given with <c>--plugins DIR</c>, searched first. A missing folder is an error.</summary>
    public IReadOnlyList<string> PluginDirectories { get; init; } = [];

    /// <summary>Also search the folders in <c>PEFTHOST_PLUGINS</c> (missing ones are warned about).</summary>
    public bool IncludeEnvironment { get; init; } = true;

    /// <summary>Also search the built-in root (<c>artifacts/plugins/</c> of the repository).</summary>
    public bool IncludeBuiltIn { get; init; } = true;

    /// <summary>The built-in root; null finds it by walking up from the application's folder to <c>PeftHost.sln</c>.</summary>
    public string? BuiltInDirectory { get; init; }

    /// <summary>Watch loaded plugins' files and queue a reload when they change (off for one-shot commands).</summary>
    public bool WatchForChanges { get; init; } = true;

    /// <summary>
    /// How long a plugin's files must stay quiet after a change before the reload is queued: a
    /// build writes the dll, pdb and deps.json in a burst, and a half-written dll must not load.
    /// </summary>
    public TimeSpan ReloadDelay { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// How long a guarded plugin call (<see cref="PluginHost.InvokeGuarded{T}(object, string, Func{T}, TimeSpan?)"/>:
    /// Inject and the like) may run before the host gives up on it: the plugin is marked Failed and
    /// the call abandoned on its thread. Null (the default): no limit — a large model's Inject may
    /// legitimately take minutes.
    /// </summary>
    public TimeSpan? CallTimeout { get; init; }
}
