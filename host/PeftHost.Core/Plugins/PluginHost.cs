using System.Diagnostics;
using PeftHost.Core.Telemetry;
using PeftHost.Sdk;

namespace PeftHost.Core.Plugins;

/// <summary>
/// Discovers, loads and hot-reloads method and quantizer plugins.
/// <para>
/// Each plugin folder (<c>&lt;Name&gt;/&lt;Name&gt;.dll</c> + <c>&lt;Name&gt;.deps.json</c>) under the
/// roots — <c>--plugins</c> folders, then <c>PEFTHOST_PLUGINS</c>, then the built-in
/// <c>artifacts/plugins/</c> — is loaded into its own collectible context with the SDK and
/// TorchSharp shared. A plugin that cannot be loaded, targets another SDK major, or throws is
/// marked Failed with a reason; the others carry on.
/// </para>
/// <para>
/// Hot reload is game-style: a changed dll only makes a reload pending; the engine applies it at a
/// step boundary with <see cref="ApplyPendingReloads"/>, where registered
/// <see cref="IPluginReloadParticipant"/>s detach from the old build and re-attach to the new one.
/// Instances returned by <see cref="GetMethod"/> and <see cref="FindQuantizer"/> are valid until
/// the next <see cref="ApplyPendingReloads"/>; do not cache them across step boundaries.
/// </para>
/// Thread-safety: file watching runs on thread-pool threads; every other member is meant for the
/// engine thread, and state is guarded so that watcher callbacks never race with it.
/// </summary>
public sealed class PluginHost : IDisposable, Peft.IMethodCatalog, Quantization.IQuantizerResolver
{
    /// <summary>The <see cref="IHostEvent.Source"/> of plugin events.</summary>
    public const string EventSource = "plugins";

    private readonly object _gate = new();
    private readonly List<PluginSlot> _slots = [];
    private readonly List<IPluginReloadParticipant> _participants = [];
    private readonly List<RetiredPluginContext> _retired = [];
    private readonly PluginHostOptions _options;
    private readonly EventBus? _events;
    private bool _disposed;

    /// <summary>Finds the plugin roots and loads every plugin in them; failures are recorded, never thrown.</summary>
    /// <param name="options">Where to look and whether to watch; defaults search every root and watch.</param>
    /// <param name="events">Receives <see cref="PluginLoadedEvent"/>, <see cref="PluginReloadedEvent"/> and <see cref="PluginFailedEvent"/>.</param>
    /// <exception cref="DirectoryNotFoundException">A folder in <see cref="PluginHostOptions.PluginDirectories"/> does not exist.</exception>
    public PluginHost(PluginHostOptions? options = null, EventBus? events = null)
    {
        _options = options ?? new PluginHostOptions();
        _events = events;
        Roots = ResolveRoots();
        Rescan();
    }

    /// <summary>The roots searched, in priority order (a name provided twice is served by the first).</summary>
    public IReadOnlyList<string> Roots { get; }

    /// <summary>A snapshot of every plugin found, in discovery order.</summary>
    public IReadOnlyList<PluginInfo> Plugins
    {
        get { lock (_gate) return _slots.Select(s => s.Info).ToArray(); }
    }

    /// <summary>Names of the methods currently served.</summary>
    public IReadOnlyList<string> MethodNames => ServedNames(PluginExportKind.Method);

    /// <summary>Names of the quantizers currently served.</summary>
    public IReadOnlyList<string> QuantizerNames => ServedNames(PluginExportKind.Quantizer);

    /// <summary>Load contexts of unloaded builds and failed attempts, held weakly.</summary>
    public IReadOnlyList<RetiredPluginContext> RetiredContexts
    {
        get { lock (_gate) return _retired.ToArray(); }
    }

    /// <summary>True when some plugin's files changed (or a reload was requested) and <see cref="ApplyPendingReloads"/> has work.</summary>
    public bool HasPendingReloads
    {
        get { lock (_gate) return _slots.Any(s => s.PendingSince != 0); }
    }

    /// <summary>The plugins with a pending reload.</summary>
    public IReadOnlyList<string> PendingReloads
    {
        get { lock (_gate) return _slots.Where(s => s.PendingSince != 0).Select(s => s.Name).ToArray(); }
    }

    /// <summary>
    /// The method named <paramref name="name"/> (case-insensitive).
    /// </summary>
    /// <exception cref="PluginException">No plugin provides it (the message lists the available names and a
    /// did-you-mean), or the plugin providing it has failed (the message gives the reason).</exception>
    public IPeftMethod GetMethod(string name) =>
        Resolve(name, PluginExportKind.Method, b => b.Methods.First(m => SameName(m.Name, name)))
        ?? throw Unknown(name, PluginExportKind.Method);

    /// <summary>The method whose <c>peft_type</c> is <paramref name="peftType"/> (as in <c>adapter_config.json</c>), or null.</summary>
    public IPeftMethod GetMethodByPeftType(string peftType) =>
        FindMethodByPeftType(peftType) ?? throw new ConfigException(
            $"no loaded method writes peft_type '{peftType}' (loaded: {(MethodNames.Count == 0 ? "none" : string.Join(", ", MethodNames))})", "peft_type");

    /// <summary>The method whose <see cref="IPeftMethod.PeftType"/> is <paramref name="peftType"/>, or null.</summary>
    public IPeftMethod? FindMethodByPeftType(string peftType)
    {
        lock (_gate)
        {
            foreach (var slot in _slots.Where(s => s.IsServing))
            {
                var export = slot.Info.Methods.FirstOrDefault(e => SameName(e.PeftType ?? "", peftType));
                if (export is not null) return slot.Build!.Methods.First(m => SameName(m.Name, export.Name));
            }
        }
        return null;
    }

    /// <summary>The quantizer named <paramref name="name"/> (case-insensitive), or null when no plugin provides one.</summary>
    /// <exception cref="PluginException">The plugin providing it has failed.</exception>
    public IQuantizer? FindQuantizer(string name) =>
        Resolve(name, PluginExportKind.Quantizer, b => b.Quantizers.First(q => SameName(q.Name, name)));

    /// <summary>Like <see cref="FindQuantizer"/>, but an unknown name is an error listing the available ones.</summary>
    public IQuantizer GetQuantizer(string name) => FindQuantizer(name) ?? throw Unknown(name, PluginExportKind.Quantizer);

    /// <inheritdoc />
    IQuantizer Quantization.IQuantizerResolver.Resolve(string name) => GetQuantizer(name);

    /// <summary>The plugin whose code made <paramref name="instance"/> (a method, an adapter, a module…), or null for host objects.</summary>
    public PluginInfo? PluginOf(object instance)
    {
        lock (_gate) return SlotOf(instance)?.Info;
    }

    /// <summary>
    /// Calls plugin code on behalf of the engine. When <paramref name="call"/> throws, the plugin
    /// that made <paramref name="pluginObject"/> is marked Failed with the reason (a
    /// <see cref="PluginFailedEvent"/> is published) and a <see cref="PluginException"/> naming the
    /// plugin and <paramref name="operation"/> is thrown, the original as its inner exception.
    /// A <see cref="ConfigException"/> (the user's config, not the plugin, is at fault) and
    /// cancellation pass through untouched. Objects not made by a plugin are called plainly.
    /// <para>
    /// With a time limit (<paramref name="timeout"/>, else <see cref="PluginHostOptions.CallTimeout"/>)
    /// the call runs on a thread of its own (with the caller's grad mode); if it has not returned in
    /// time the plugin is marked Failed, a <see cref="PluginException"/> says so, and the call is
    /// abandoned: its thread may go on running, but nothing it returns is used.
    /// </para>
    /// </summary>
    /// <param name="pluginObject">The plugin object being called: an <see cref="IPeftMethod"/>, an <see cref="IAdapter"/>…</param>
    /// <param name="operation">What is being done, for the message: <c>"lora.Inject"</c>.</param>
    /// <param name="call">The call.</param>
    /// <param name="timeout">The time limit for this call; null takes <see cref="PluginHostOptions.CallTimeout"/>.</param>
    public T InvokeGuarded<T>(object pluginObject, string operation, Func<T> call, TimeSpan? timeout = null)
    {
        PluginSlot? slot;
        lock (_gate) slot = SlotOf(pluginObject);
        if (slot is null) return call();
        var limit = timeout ?? _options.CallTimeout;
        try
        {
            return limit is { } l && l != Timeout.InfiniteTimeSpan ? CallWithin(slot, operation, call, l) : call();
        }
        catch (Exception e) when (e is not (ConfigException or OperationCanceledException or PluginException))
        {
            string what = PluginTypeDiscovery.Unwrap(e);
            MarkFailed(slot, $"{operation} threw: {what}");
            throw new PluginException(slot.Name,
                $"plugin '{slot.Name}' failed in {operation}: {what}. The plugin is marked Failed; fix it and rebuild to reload it.", e);
        }
    }

    /// <inheritdoc cref="InvokeGuarded{T}(object, string, Func{T}, TimeSpan?)"/>
    public void InvokeGuarded(object pluginObject, string operation, Action call, TimeSpan? timeout = null) =>
        InvokeGuarded<object?>(pluginObject, operation, () => { call(); return null; }, timeout);

    /// <inheritdoc />
    T Peft.IMethodCatalog.Invoke<T>(object pluginObject, string operation, Func<T> call) => InvokeGuarded(pluginObject, operation, call);

    /// <summary>Runs <paramref name="call"/> on its own thread and waits at most <paramref name="limit"/> for it.</summary>
    private T CallWithin<T>(PluginSlot slot, string operation, Func<T> call, TimeSpan limit)
    {
        T result = default!;
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? error = null;
        bool grad = TorchSharp.torch.is_grad_enabled(); // grad mode is per thread in libtorch
        var thread = new Thread(() =>
        {
            try
            {
                using var mode = grad ? TorchSharp.torch.enable_grad() : TorchSharp.torch.no_grad();
                result = call();
            }
            catch (Exception e) { error = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e); }
        }) { IsBackground = true, Name = $"plugin {slot.Name}: {operation}" };
        thread.Start();
        if (!thread.Join(limit))
        {
            string seconds = limit.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
            MarkFailed(slot, $"{operation} did not return within {seconds} s (abandoned)");
            throw new PluginException(slot.Name,
                $"plugin '{slot.Name}' failed in {operation}: it did not return within {seconds} s. The plugin is marked Failed and the call " +
                "abandoned (its thread may still be running); fix the plugin and rebuild it to reload it.");
        }
        error?.Throw();
        return result;
    }

    /// <summary>Adds a participant to every hot reload; dispose the result to remove it.</summary>
    public IDisposable RegisterReloadParticipant(IPluginReloadParticipant participant)
    {
        lock (_gate) _participants.Add(participant);
        return new Registration(() => { lock (_gate) _participants.Remove(participant); });
    }

    /// <summary>Makes a reload of <paramref name="pluginName"/> pending as if its files had changed (the dashboard's reload key).</summary>
    public void RequestReload(string pluginName)
    {
        lock (_gate)
        {
            var slot = _slots.FirstOrDefault(s => SameName(s.Name, pluginName))
                ?? throw new PluginException(null, $"unknown plugin '{pluginName}' (plugins: {string.Join(", ", _slots.Select(s => s.Name))})");
            if (slot.PendingSince == 0) slot.PendingSince = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>
    /// Applies pending reloads; call it at a step boundary (the trainer calls it between optimizer
    /// steps). For each pending plugin: the new build is loaded into a new collectible context
    /// (if that fails the old build keeps serving and the reload is Refused); every participant
    /// detaches from the old build; the old context is unloaded; participants re-attach to the new
    /// build. Loading before detaching means a broken rebuild never costs the running adapters.
    /// </summary>
    /// <returns>One result per plugin that was pending.</returns>
    /// <exception cref="PluginException">Re-attaching to a new build failed (that plugin is now Failed), or a participant could not detach (the swap was rolled back).</exception>
    public IReadOnlyList<PluginReloadResult> ApplyPendingReloads()
    {
        List<(PluginSlot Slot, long Since)> pending;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            pending = _slots.Where(s => s.PendingSince != 0).Select(s => (s, s.PendingSince)).ToList();
            foreach (var (slot, _) in pending) slot.PendingSince = 0;
        }
        var results = new List<PluginReloadResult>();
        var errors = new List<PluginException>();
        foreach (var (slot, since) in pending)
            results.Add(Reload(slot, since, errors));
        if (errors.Count == 1) throw errors[0];
        if (errors.Count > 1)
            throw new PluginException(errors[0].PluginName, "hot reload failed: " + string.Join(" | ", errors.Select(e => e.Message)), new AggregateException(errors));
        return results;
    }

    /// <summary>
    /// Loads plugin folders that appeared in the roots since the last scan (drop a folder in and
    /// rescan). Returns how many were added.
    /// </summary>
    public int Rescan()
    {
        var known = Snapshot().Select(s => s.Candidate.Folder).ToHashSet(StringComparer.Ordinal);
        int added = 0;
        foreach (var root in Roots)
        {
            foreach (var candidate in PluginLocations.Enumerate(root))
            {
                if (!known.Add(candidate.Folder)) continue;
                AddSlot(candidate);
                added++;
            }
        }
        return added;
    }

    /// <summary>
    /// Collects garbage until every retired context is gone or <paramref name="timeout"/> passes.
    /// True when all were collected: nothing keeps an old build in memory.
    /// </summary>
    public bool WaitForRetiredContextsToUnload(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (RetiredContexts.All(c => !c.IsAlive)) return true;
            if (clock.Elapsed > timeout) return false;
            Thread.Sleep(20);
        }
    }

    /// <summary>Stops watching and unloads every build. Objects made by plugins stay usable until they are dropped.</summary>
    public void Dispose()
    {
        PluginSlot[] slots;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            slots = _slots.ToArray();
        }
        foreach (var slot in slots)
        {
            slot.Watcher?.Dispose();
            if (slot.Build is { } build)
            {
                slot.Build = null;
                Retire(slot.Name, slot.Info.Generation, build.Unload());
            }
        }
    }

    private IReadOnlyList<string> ResolveRoots()
    {
        var roots = new List<string>();
        foreach (var dir in _options.PluginDirectories)
        {
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--plugins {dir}: folder not found");
            roots.Add(Path.GetFullPath(dir));
        }
        if (_options.IncludeEnvironment)
        {
            foreach (var dir in PluginLocations.FromEnvironment())
            {
                if (Directory.Exists(dir)) roots.Add(Path.GetFullPath(dir));
                else _events?.Log(LogLevel.Warning, EventSource, $"{PluginLocations.EnvironmentVariable}: folder '{dir}' not found; skipped");
            }
        }
        if (_options.IncludeBuiltIn && (_options.BuiltInDirectory ?? PluginLocations.BuiltInRoot()) is string builtIn && Directory.Exists(builtIn))
            roots.Add(Path.GetFullPath(builtIn));
        return roots.Distinct(StringComparer.Ordinal).ToArray();
    }

    private void AddSlot(PluginCandidate candidate)
    {
        var outcome = PluginBuildLoader.Load(candidate);
        var slot = new PluginSlot(candidate, InfoFrom(candidate, outcome, generation: 0));
        string? conflict;
        lock (_gate)
        {
            _slots.Add(slot);
            if (outcome.Abandoned is not null) _retired.Add(new RetiredPluginContext(candidate.Name, 0, outcome.Abandoned));
            conflict = outcome.Build is null ? null : NameConflict(slot, outcome.Build.Exports);
            if (outcome.Build is not null && conflict is null)
            {
                slot.Build = outcome.Build;
                slot.Info = slot.Info with { Generation = 1 };
            }
        }
        if (conflict is not null)
        {
            Retire(candidate.Name, 0, outcome.Build!.Unload());
            lock (_gate) slot.Info = slot.Info with { State = PluginState.Failed, FailureReason = conflict };
        }
        if (_options.WatchForChanges && Directory.Exists(candidate.Folder))
            slot.Watcher = new PluginFileWatcher(candidate, _options.ReloadDelay, since => MarkPending(slot, since));

        if (slot.Info.IsServing) Publish(new PluginLoadedEvent(slot.Info));
        else Publish(new PluginFailedEvent(slot.Info, slot.Info.FailureReason!));
    }

    /// <summary>
    /// A settled change of the plugin's files (watcher thread). Only the outcome at the step boundary is
    /// announced (reloaded with its timing, refused with its reason, or nothing for identical bytes), so a
    /// rebuild that writes its files in several bursts still gives one line; this is a debug note.
    /// </summary>
    private void MarkPending(PluginSlot slot, long since)
    {
        lock (_gate)
        {
            if (_disposed || slot.PendingSince != 0) return;
            slot.PendingSince = since;
        }
        _events?.Log(LogLevel.Debug, EventSource, $"plugin '{slot.Name}' changed on disk; the new build is tried at the next step boundary");
    }

    private PluginReloadResult Reload(PluginSlot slot, long since, List<PluginException> errors)
    {
        var clock = Stopwatch.StartNew();
        var outcome = PluginBuildLoader.Load(slot.Candidate);
        if (outcome.Abandoned is not null) Retire(slot.Name, 0, outcome.Abandoned);
        // A rebuild is still writing the dll: judging what was read could refuse a half-written file or serve one build's
        // code under another's version. The write makes the watcher report the files again once they settle.
        if (outcome.ChangedWhileLoading)
            return new PluginReloadResult(slot.Name, PluginReloadOutcome.Deferred, outcome.FailureReason, Elapsed(since), clock.Elapsed.TotalMilliseconds);
        var old = slot.Build;
        bool wasServing;
        lock (_gate) wasServing = slot.IsServing;

        string? refusal = outcome.FailureReason;
        if (outcome.Build is not null)
        {
            if (wasServing && outcome.Build.Facts.ContentHash == old!.Facts.ContentHash)
            {
                Retire(slot.Name, 0, outcome.Build.Unload());
                return new PluginReloadResult(slot.Name, PluginReloadOutcome.Unchanged, null, Elapsed(since), clock.Elapsed.TotalMilliseconds);
            }
            lock (_gate) refusal = NameConflict(slot, outcome.Build.Exports);
            if (refusal is not null) Retire(slot.Name, 0, outcome.Build.Unload());
        }
        if (refusal is not null) return Refuse(slot, outcome, refusal, wasServing, since, clock);

        var build = outcome.Build!;
        var continuations = new List<Action<PluginExports>>();
        if (old is not null)
        {
            var detachError = DetachAll(old.ToExports(slot.Name), continuations);
            if (detachError is not null)
            {
                Retire(slot.Name, 0, build.Unload());
                errors.Add(new PluginException(slot.Name,
                    $"reload of plugin '{slot.Name}' abandoned, previous build kept: a participant failed to detach: {detachError.Message}", detachError));
                return new PluginReloadResult(slot.Name, PluginReloadOutcome.Refused, detachError.Message, Elapsed(since), clock.Elapsed.TotalMilliseconds);
            }
        }

        string? previousVersion = slot.Info.Version;
        int generation = slot.Info.Generation + 1;
        lock (_gate)
        {
            slot.Build = build;
            slot.LastRefusal = null;
            slot.Info = InfoFrom(slot.Candidate, outcome, generation) with
            {
                State = generation > 1 ? PluginState.Reloaded : PluginState.Loaded,
            };
        }
        if (old is not null) Retire(slot.Name, generation - 1, old.Unload());
        old = null;

        var incoming = build.ToExports(slot.Name);
        int reattached = 0;
        foreach (var continuation in continuations)
        {
            try
            {
                continuation(incoming);
                reattached++;
            }
            catch (Exception e)
            {
                var error = e as PluginException ?? new PluginException(slot.Name,
                    $"plugin '{slot.Name}' {build.Facts.Version}: re-attaching after the reload failed: {PluginTypeDiscovery.Unwrap(e)}", e);
                if (slot.Info.IsServing) MarkFailed(slot, $"re-attaching after the reload threw: {PluginTypeDiscovery.Unwrap(e)}");
                errors.Add(error);
            }
        }
        double applyMs = clock.Elapsed.TotalMilliseconds;
        if (!slot.Info.IsServing)
            return new PluginReloadResult(slot.Name, PluginReloadOutcome.Failed, slot.Info.FailureReason, Elapsed(since), applyMs);

        double total = Elapsed(since);
        if (generation > 1) Publish(new PluginReloadedEvent(slot.Info, previousVersion, total, applyMs, reattached));
        else Publish(new PluginLoadedEvent(slot.Info));
        return new PluginReloadResult(slot.Name, PluginReloadOutcome.Reloaded, null, total, applyMs);
    }

    /// <summary>Runs every participant's detach; on a throw, rolls the others back by re-attaching them to the old build.</summary>
    private Exception? DetachAll(PluginExports outgoing, List<Action<PluginExports>> continuations)
    {
        IPluginReloadParticipant[] participants;
        lock (_gate) participants = _participants.ToArray();
        foreach (var participant in participants)
        {
            try
            {
                if (participant.Detach(outgoing) is { } continuation) continuations.Add(continuation);
            }
            catch (Exception e)
            {
                foreach (var undo in continuations)
                {
                    try { undo(outgoing); }
                    catch (Exception rollback) { _events?.Log(LogLevel.Error, EventSource, $"rolling back a detach of '{outgoing.PluginName}' failed: {rollback.Message}"); }
                }
                continuations.Clear();
                return e;
            }
        }
        return null;
    }

    private PluginReloadResult Refuse(PluginSlot slot, PluginLoadOutcome outcome, string reason, bool wasServing, long since, Stopwatch clock)
    {
        PluginInfo info;
        var refusal = (outcome.Facts?.ContentHash, reason);
        lock (_gate)
        {
            if (wasServing && slot.LastRefusal == refusal)
                return new PluginReloadResult(slot.Name, PluginReloadOutcome.Unchanged, null, Elapsed(since), clock.Elapsed.TotalMilliseconds);
            slot.LastRefusal = wasServing ? refusal : null;
            slot.Info = wasServing
                ? slot.Info with { LastReloadError = reason }
                : InfoFrom(slot.Candidate, outcome, slot.Info.Generation) with { State = PluginState.Failed, FailureReason = reason };
            info = slot.Info;
        }
        Publish(new PluginFailedEvent(info, reason, StillServing: wasServing, AttemptedVersion: outcome.Facts?.Version));
        return new PluginReloadResult(slot.Name, wasServing ? PluginReloadOutcome.Refused : PluginReloadOutcome.Failed, reason,
            Elapsed(since), clock.Elapsed.TotalMilliseconds);
    }

    private void MarkFailed(PluginSlot slot, string reason)
    {
        PluginInfo info;
        lock (_gate)
        {
            slot.Info = slot.Info with { State = PluginState.Failed, FailureReason = reason };
            info = slot.Info;
        }
        Publish(new PluginFailedEvent(info, reason));
    }

    /// <summary>A reason when another serving plugin already provides one of <paramref name="exports"/>' names. Call under the lock.</summary>
    private string? NameConflict(PluginSlot slot, IReadOnlyList<PluginExport> exports)
    {
        foreach (var other in _slots.Where(s => s != slot && s.IsServing))
        {
            var clash = exports.FirstOrDefault(e => other.Info.Exports.Any(o => o.Kind == e.Kind && SameName(o.Name, e.Name)));
            if (clash is not null)
                return $"{clash.Kind.ToString().ToLowerInvariant()} '{clash.Name}' is already provided by plugin '{other.Name}' ({other.Candidate.Folder}); remove one of them";
        }
        return null;
    }

    private T? Resolve<T>(string name, PluginExportKind kind, Func<PluginBuild, T> pick) where T : class
    {
        lock (_gate)
        {
            foreach (var slot in _slots)
            {
                if (!slot.Info.Exports.Any(e => e.Kind == kind && SameName(e.Name, name))) continue;
                if (slot.IsServing) return pick(slot.Build!);
                throw new PluginException(slot.Name,
                    $"{kind.ToString().ToLowerInvariant()} '{name}' is unavailable: plugin '{slot.Name}' failed: {slot.Info.FailureReason}");
            }
        }
        return null;
    }

    /// <summary>
    /// The error for a name no serving plugin provides. A plugin that failed before its methods were
    /// known may be the one that would have served it, so the failed plugins are listed with their reasons.
    /// </summary>
    private PluginException Unknown(string name, PluginExportKind kind)
    {
        string noun = kind.ToString().ToLowerInvariant();
        var available = ServedNames(kind);
        string failed;
        lock (_gate)
        {
            var reasons = _slots.Where(s => !s.IsServing).Select(s => $"{s.Name} ({s.Info.FailureReason})").ToArray();
            failed = reasons.Length == 0 ? "" : $". Plugins that failed to load: {string.Join("; ", reasons)}";
        }
        if (available.Count == 0)
        {
            string searched = Roots.Count == 0 ? "no plugin folders were found" : "searched " + string.Join(", ", Roots);
            return new PluginException(null, $"unknown {noun} '{name}': no {noun} plugins are loaded ({searched}){failed}");
        }
        string? hint = KeyNames.DidYouMean(name, available);
        return new PluginException(null,
            $"unknown {noun} '{name}'" + (hint is null ? "" : $"; did you mean '{hint}'?") + $" Available: {string.Join(", ", available)}{failed}");
    }

    private IReadOnlyList<string> ServedNames(PluginExportKind kind)
    {
        lock (_gate)
        {
            return _slots.Where(s => s.IsServing).SelectMany(s => s.Info.Exports).Where(e => e.Kind == kind)
                .Select(e => e.Name).Order(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>The slot whose current build made <paramref name="instance"/>. Call under the lock.</summary>
    private PluginSlot? SlotOf(object instance)
    {
        var assembly = instance.GetType().Assembly;
        return _slots.FirstOrDefault(s => s.Build?.Contains(assembly) == true);
    }

    private PluginSlot[] Snapshot()
    {
        lock (_gate) return _slots.ToArray();
    }

    private void Retire(string plugin, int generation, WeakReference context)
    {
        lock (_gate)
        {
            _retired.RemoveAll(r => !r.IsAlive); // keep the list to the contexts still worth watching
            _retired.Add(new RetiredPluginContext(plugin, generation, context));
        }
    }

    private static PluginInfo InfoFrom(PluginCandidate candidate, PluginLoadOutcome outcome, int generation) => new(
        candidate.Name,
        candidate.AssemblyPath,
        outcome.Facts?.Version,
        outcome.Facts?.SdkReference,
        outcome.Build is null ? PluginState.Failed : PluginState.Loaded,
        outcome.FailureReason,
        outcome.ElapsedMs,
        outcome.Build?.Exports ?? [],
        generation);

    private void Publish(IHostEvent e) => _events?.Publish(e);

    private static double Elapsed(long since) => Stopwatch.GetElapsedTime(since).TotalMilliseconds;

    private static bool SameName(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private sealed class Registration(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;
        public void Dispose() { _dispose?.Invoke(); _dispose = null; }
    }
}
