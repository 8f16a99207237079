using System.Diagnostics;

namespace PeftHost.Core.Plugins;

/// <summary>
/// Watches one plugin folder for changes to its main dll, pdb and deps.json and reports a change once
/// the files have been quiet for the reload delay, with the time the first change was seen.
/// <para>
/// Why not McMaster's <c>EnableHotReload</c>/<c>ReloadDelay</c>: it swaps the load context on its
/// watcher thread as soon as the delay expires — possibly in the middle of a training step, under
/// live adapters — and raises <c>Reloaded</c> only afterwards. PluginHost needs the opposite: a
/// change only becomes pending, and the swap happens at a step boundary chosen by the engine, with
/// the participants detaching first. It also wants the first-change time, to report how long a
/// reload took end to end. So it watches the files itself and uses McMaster only for contexts.
/// </para>
/// </summary>
internal sealed class PluginFileWatcher : IDisposable
{
    private readonly FileSystemWatcher _watcher;
    private readonly Timer _quiet;
    private readonly TimeSpan _delay;
    private readonly Action<long> _onSettled;
    private readonly string[] _files;
    private readonly object _gate = new();
    private long _firstChange;
    private bool _disposed;

    /// <param name="candidate">The plugin folder to watch.</param>
    /// <param name="delay">Quiet time after the last change before reporting.</param>
    /// <param name="onSettled">Called on a thread-pool thread with the <see cref="Stopwatch"/> timestamp of the burst's first change.</param>
    public PluginFileWatcher(PluginCandidate candidate, TimeSpan delay, Action<long> onSettled)
    {
        _delay = delay;
        _onSettled = onSettled;
        // The pdb too: McMaster reads it along with the dll, and a build writes it just after the dll.
        _files = [Path.GetFileName(candidate.AssemblyPath), Path.GetFileName(candidate.DepsPath), candidate.Name + ".pdb"];
        _quiet = new Timer(_ => Settle(), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new FileSystemWatcher(candidate.Folder)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            IncludeSubdirectories = false,
        };
        _watcher.Changed += (_, e) => OnEvent(e.Name);
        _watcher.Created += (_, e) => OnEvent(e.Name);
        _watcher.Deleted += (_, e) => OnEvent(e.Name);
        _watcher.Renamed += (_, e) => { OnEvent(e.Name); OnEvent(e.OldName); };
        // A lost event (buffer overflow) may have been ours: treat it as a change; a reload of
        // identical bytes is recognised by its hash and skipped.
        _watcher.Error += (_, _) => Touch();
        _watcher.EnableRaisingEvents = true;
    }

    private void OnEvent(string? name)
    {
        if (name is not null && _files.Contains(name, StringComparer.Ordinal)) Touch();
    }

    private void Touch()
    {
        lock (_gate)
        {
            if (_disposed) return;
            if (_firstChange == 0) _firstChange = Stopwatch.GetTimestamp();
            _quiet.Change(_delay, Timeout.InfiniteTimeSpan); // every event restarts the quiet period
        }
    }

    private void Settle()
    {
        long first;
        lock (_gate)
        {
            if (_disposed || _firstChange == 0) return;
            first = _firstChange;
            _firstChange = 0;
        }
        _onSettled(first);
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        _watcher.Dispose();
        _quiet.Dispose();
    }
}
