using System.Globalization;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Telemetry;
using PeftHost.Sdk;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Peft;

/// <summary>One adapter on a <see cref="PeftModel"/>: the live adapter and the method that made it.</summary>
/// <param name="Name">The adapter's name.</param>
/// <param name="Method">The method plugin that injected it.</param>
/// <param name="Adapter">The live adapter.</param>
public sealed record AdapterEntry(string Name, IPeftMethod Method, IAdapter Adapter);

/// <summary>
/// A base model with named adapters, in the spirit of Hugging Face PEFT's PeftModel: add, load,
/// save, switch, disable, merge, combine and unload adapters. Methods come from plugins through
/// an <see cref="IMethodCatalog"/>; this class knows none by name.
/// </summary>
public sealed class PeftModel : Plugins.IPluginReloadParticipant
{
    private readonly Dictionary<string, AdapterEntry> _adapters = new(StringComparer.Ordinal);
    private readonly IMethodCatalog _methods;
    private readonly EventBus? _bus;
    private readonly Dictionary<string, AdapterHistory> _histories = new(StringComparer.Ordinal);

    /// <summary>Wraps <paramref name="model"/>; its base weights are frozen.</summary>
    public PeftModel(CausalLanguageModel model, IMethodCatalog methods, EventBus? bus = null, ITextEncoder? tokenizer = null, string? baseModelPath = null)
    {
        Base = model;
        _methods = methods;
        _bus = bus;
        BaseModelPath = baseModelPath;
        Surface = new ModelSurface(model, tokenizer, message => _bus?.Log(Telemetry.LogLevel.Warning, "peft", message));
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = false;
    }

    /// <summary>The model the adapters live on.</summary>
    public CausalLanguageModel Base { get; }

    /// <summary>What method plugins see of the model.</summary>
    public ModelSurface Surface { get; }

    /// <summary>
    /// Recorded as <c>base_model_name_or_path</c> when adapters are saved: the base model as the
    /// user named it (the path given, as Hugging Face records the name passed to from_pretrained).
    /// </summary>
    public string? BaseModelPath { get; set; }

    /// <summary>What adapter <paramref name="name"/> was trained and evaluated on in this session (for its model card).</summary>
    public AdapterHistory HistoryOf(string name)
    {
        _ = this[name];
        return _histories.TryGetValue(name, out var history) ? history : _histories[name] = new AdapterHistory();
    }

    /// <summary>The adapters, by name, in the order they were added.</summary>
    public IReadOnlyCollection<AdapterEntry> Adapters => _adapters.Values;

    /// <summary>The active adapter's name, or null when there is none.</summary>
    public string? ActiveAdapter => Routing.ActiveAdapters.Count > 0 ? Routing.ActiveAdapters[0] : null;

    private AdapterRouting Routing => Base.Hooks.Routing;

    /// <summary>The adapter named <paramref name="name"/>; throws naming the adapters there are.</summary>
    public AdapterEntry this[string name] => _adapters.TryGetValue(name, out var e) ? e
        : throw new ArgumentException($"no adapter '{name}' (adapters: {(_adapters.Count == 0 ? "none" : string.Join(", ", _adapters.Keys))})");

    /// <summary>
    /// Injects a new adapter made by <paramref name="method"/> from <paramref name="options"/>
    /// (camelCase or snake_case keys), makes it active and trainable (PEFT's get_peft_model / add_adapter).
    /// </summary>
    public AdapterEntry AddAdapter(string method, JsonObject options, string name = AdapterFiles.DefaultAdapterName)
    {
        var m = _methods.GetMethod(method);
        var config = m.BindConfig(ConfigSource.FromOptions(options, $"{method} options"));
        return Add(name, m, config, trainable: true);
    }

    /// <summary>Injects an adapter from an already-bound config.</summary>
    public AdapterEntry AddAdapter(IPeftMethod method, PeftConfig config, string name = AdapterFiles.DefaultAdapterName, bool trainable = true) =>
        Add(name, method, config, trainable);

    /// <summary>
    /// Loads a PEFT adapter folder (written by PeftHost or by Python PEFT) as <paramref name="name"/>.
    /// With <paramref name="isTrainable"/> its parameters train (to continue a run); otherwise it is frozen.
    /// </summary>
    public AdapterEntry LoadAdapter(string directory, string name = AdapterFiles.DefaultAdapterName, bool isTrainable = false)
    {
        string configPath = Path.Combine(directory, AdapterFiles.ConfigFileName);
        string weightsPath = Path.Combine(directory, AdapterFiles.WeightsFileName);
        // Errors about the config name the file, whichever step (catalog, binding, injection) finds them.
        ConfigException AtConfig(ConfigException e) => e.Message.Contains(configPath, StringComparison.Ordinal) ? e : new ConfigException($"{configPath}: {e.Message}", e.Key);

        // Config and weights of one save, even while the folder is being saved again.
        var (json, state) = AdapterFiles.Read(directory);
        try
        {
            string peftType = json["peft_type"] is JsonValue value && value.TryGetValue<string>(out var type) ? type
                : throw new ConfigException($"{configPath}: 'peft_type' " + (json["peft_type"] is null ? "missing" : $"must be a string, got {json["peft_type"]!.ToJsonString()}"), "peft_type");
            IPeftMethod method;
            PeftConfig config;
            try
            {
                method = _methods.GetMethodByPeftType(peftType);
                config = method.BindConfig(ConfigSource.FromAdapterConfig(json, configPath,
                    warning => _bus?.Log(Telemetry.LogLevel.Warning, "peft", warning)));
            }
            catch (ConfigException e) { throw AtConfig(e); }
            AdapterEntry entry;
            try { entry = Add(name, method, config, isTrainable); }
            catch (ConfigException e) { throw AtConfig(e); }
            try
            {
                entry.Adapter.LoadState(state);
            }
            catch (Exception e)
            {
                DeleteAdapter(name);
                // IAdapter.LoadState reports missing or mis-shaped tensors as InvalidDataException: the file does not fit its config.
                if (e is InvalidDataException)
                    throw new ModelFormatException(weightsPath, $"does not fit the {method.Name} adapter that {configPath} describes: {e.Message}");
                throw;
            }
            SetTrainable(entry, isTrainable);
            return entry;
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>Saves adapters in PEFT's layout: "default" at <paramref name="directory"/>, others in subfolders.</summary>
    public void SaveAdapter(string directory, IEnumerable<string>? names = null)
    {
        foreach (var name in names ?? _adapters.Keys)
        {
            var entry = this[name];
            var config = entry.Adapter.Config.ToJson();
            config["peft_type"] = entry.Method.PeftType;
            config["base_model_name_or_path"] = BaseModelPath;
            config["inference_mode"] = true;
            var state = entry.Adapter.GetState();
            // The loader refuses non-finite tensors, so a diverged adapter is refused here rather than written unloadable.
            foreach (var (key, tensor) in state)
                if (ModelLoader.NonFiniteReport(tensor) is { } problem)
                    throw new InvalidOperationException($"adapter '{name}' cannot be saved: tensor '{key}' {problem} (a diverged run; resume from a checkpoint instead)");
            AdapterFiles.Write(AdapterFiles.FolderFor(directory, name), config, state, ModelCard.Render(name, config, HistoryOf(name)));
        }
    }

    /// <summary>Makes <paramref name="name"/> the active (and only trainable) adapter.</summary>
    public void SetAdapter(string name)
    {
        var entry = this[name];
        Routing.ActiveAdapters = [name];
        foreach (var other in _adapters.Values) SetTrainable(other, other == entry && !entry.Adapter.Config.InferenceMode);
    }

    /// <summary>Runs the base model alone until the returned scope is disposed (PEFT's disable_adapter()).</summary>
    public IDisposable DisableAdapter()
    {
        bool previous = Routing.AdaptersDisabled;
        Routing.AdaptersDisabled = true;
        return new Scope(() => Routing.AdaptersDisabled = previous);
    }

    /// <summary>
    /// Routes each batch row to its own adapter (<see cref="IAdapterRouting.BaseModelName"/> for none)
    /// until the scope is disposed — one base model serving several adapters in one batch.
    /// </summary>
    public IDisposable UseRowAdapters(IReadOnlyList<string> rowAdapterNames)
    {
        foreach (var n in rowAdapterNames.Distinct())
            if (n != IAdapterRouting.BaseModelName) _ = this[n];
        var previous = Routing.RowAdapterNames;
        Routing.RowAdapterNames = rowAdapterNames;
        return new Scope(() => Routing.RowAdapterNames = previous);
    }

    /// <summary>Removes adapter <paramref name="name"/> (unmerging it first).</summary>
    public void DeleteAdapter(string name)
    {
        var entry = this[name];
        entry.Adapter.Remove();
        _adapters.Remove(name);
        _histories.Remove(name);
        var active = Routing.ActiveAdapters.Where(a => a != name).ToList();
        if (active.Count == 0 && _adapters.Count > 0) active.Add(_adapters.Keys.Last());
        Routing.ActiveAdapters = active;
    }

    /// <summary>Folds the given adapters (default: the active one) into the base weights.</summary>
    public void MergeAdapter(IEnumerable<string>? names = null)
    {
        foreach (var n in names ?? Routing.ActiveAdapters)
        {
            var a = this[n].Adapter;
            if (!a.CanMerge) throw new InvalidOperationException(a.Config is PeftHost.Sdk.Tuners.PromptLearningConfig
                ? $"adapter '{n}' ({this[n].Method.Name}) cannot be merged: a prompt-learning adapter adds virtual tokens (or attention prefixes) to the input, and there is no weight to fold them into; use it unmerged (e.g. peft generate --adapter)"
                : $"adapter '{n}' ({this[n].Method.Name}) cannot be merged: its method does not change weights that merging could fold into the base");
            if (a.IsMerged) continue;
            // NaN or infinity folded into a weight cannot be taken out again (x + NaN − NaN is NaN): refuse before touching it.
            foreach (var (key, parameter) in a.NamedParameters())
                if (ModelLoader.NonFiniteReport(parameter) is { } problem)
                    throw new InvalidOperationException($"merging adapter '{n}' would make the base weights non-finite: its '{key}' {problem}; the adapter stays unmerged");
            try
            {
                a.Merge();
            }
            catch
            {
                // A layer that refused (its merged weight would overflow) leaves the layers merged before it: take them
                // back out (the adapter is not IsMerged — that means merged everywhere — and unmerging skips unmerged layers).
                a.Unmerge();
                throw;
            }
        }
    }

    /// <summary>Takes every merged adapter back out of the base weights.</summary>
    public void UnmergeAdapter()
    {
        foreach (var e in _adapters.Values.Where(e => e.Adapter.IsMerged)) e.Adapter.Unmerge();
    }

    /// <summary>Merges the active adapter(s) into the base weights and removes every adapter: a plain model again.</summary>
    public CausalLanguageModel MergeAndUnload()
    {
        MergeAdapter();
        foreach (var e in _adapters.Values.ToList())
        {
            e.Adapter.Remove(keepMerged: e.Adapter.IsMerged);
            _adapters.Remove(e.Name);
        }
        Routing.ActiveAdapters = [];
        return Base;
    }

    /// <summary>Removes every adapter without merging: the original base model.</summary>
    public CausalLanguageModel Unload()
    {
        foreach (var name in _adapters.Keys.ToList()) DeleteAdapter(name);
        return Base;
    }

    /// <summary>
    /// Creates <paramref name="newName"/> from a weighted combination of adapters made by the same
    /// method (PEFT's add_weighted_adapter), e.g. with <c>linear</c>, <c>cat</c> or <c>svd</c>.
    /// </summary>
    public AdapterEntry AddWeightedAdapter(IReadOnlyList<string> names, IReadOnlyList<double> weights, string newName,
        string combinationType = "svd", int? svdRank = null)
    {
        if (names.Count == 0 || names.Count != weights.Count)
            throw new ArgumentException($"need one weight per adapter: {names.Count} adapters, {weights.Count} weights");
        CheckNewName(newName);
        var entries = names.Select(n => this[n]).ToList();
        var method = entries[0].Method;
        if (entries.Any(e => e.Method.Name != method.Name))
            throw new ArgumentException("adapters of different methods cannot be combined");
        if (method is not IAdapterCombiner combiner)
            throw new InvalidOperationException($"method '{method.Name}' does not support weighted combination");
        if (!combiner.CombinationTypes.Contains(combinationType))
            throw new ArgumentException($"unknown combination type '{combinationType}' (supported: {string.Join(", ", combiner.CombinationTypes)})");
        var adapter = combiner.Combine(Surface, entries.Select(e => e.Adapter).ToList(), weights, newName, combinationType, svdRank);
        Base.train(Base.training);
        var entry = new AdapterEntry(newName, method, adapter);
        _adapters[newName] = entry;
        SetTrainable(entry, false);
        return entry;
    }

    /// <summary>The parameters that train: those of the active adapter unless it is inference-only.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters() =>
        _adapters.Values
            .SelectMany(e => e.Adapter.NamedParameters().Select(p => (Name: p.Key, p.Parameter)))
            .Where(p => p.Parameter.requires_grad)
            .ToList();

    /// <summary>
    /// (trainable, all) as PEFT counts them: every parameter of the model (adapters included,
    /// shared tensors once); a packed 4-bit parameter counts as two per byte.
    /// </summary>
    public (long Trainable, long All) CountParameters() => ParameterCounter.Count(Base);

    /// <summary>PEFT's print_trainable_parameters line.</summary>
    public string TrainableParametersLine()
    {
        var (trainable, all) = CountParameters();
        return ParameterCounter.Format(trainable, all);
    }

    /// <summary>
    /// Hot reload: takes the state of every adapter made by <paramref name="outgoing"/>'s methods
    /// (cloned — the tensors belong to modules about to go), removes those adapters, and returns
    /// how to re-inject them with the new build's methods and restore their state, activity and
    /// trainability exactly. Re-injection is an ordinary <see cref="Add"/> (guarded plugin call,
    /// name and finiteness checks) followed by a guarded state load, as <see cref="LoadAdapter"/> does.
    /// </summary>
    public Action<Plugins.PluginExports>? Detach(Plugins.PluginExports outgoing)
    {
        var affected = _adapters.Values.Where(e => outgoing.Owns(e.Method)).ToList();
        if (affected.Count == 0) return null;
        var active = Routing.ActiveAdapters.ToList();
        var saved = affected.Select(e => new DetachedAdapter(
            e.Name,
            e.Method.Name,
            (JsonObject)e.Adapter.Config.ToJson(),
            e.Adapter.GetState().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()),
            e.Adapter.NamedParameters().Any(p => p.Parameter.requires_grad),
            e.Adapter.IsMerged)).ToList();
        foreach (var e in affected)
        {
            e.Adapter.Remove();
            _adapters.Remove(e.Name);
        }
        return incoming =>
        {
            try
            {
                foreach (var d in saved)
                {
                    var method = incoming.GetMethod(d.MethodName);
                    var config = method.BindConfig(ConfigSource.FromAdapterConfig(d.Config, $"adapter '{d.Name}' (hot reload)"));
                    var entry = Add(d.Name, method, config, d.Trainable, activate: false);
                    _methods.Invoke(method, $"{method.Name}.LoadState", () => { entry.Adapter.LoadState(d.State); return entry; });
                    if (d.Merged) MergeAdapter([d.Name]);
                }
            }
            finally
            {
                foreach (var t in saved.SelectMany(d => d.State.Values)) t.Dispose();
                Routing.ActiveAdapters = active.Where(_adapters.ContainsKey).ToList();
            }
            _bus?.Log(Telemetry.LogLevel.Info, "peft", $"re-injected {saved.Count} adapter(s) from {incoming.PluginName} {incoming.Version}");
        };
    }

    private sealed record DetachedAdapter(string Name, string MethodName, JsonObject Config,
        Dictionary<string, Tensor> State, bool Trainable, bool Merged);

    /// <summary>Puts a trained adapter's parameters in or out of training.</summary>
    private static void SetTrainable(AdapterEntry entry, bool trainable)
    {
        foreach (var (_, p) in entry.Adapter.NamedParameters()) p.requires_grad = trainable;
    }

    /// <summary>Throws unless <paramref name="name"/> can name a new adapter: non-empty, no dots or slashes (saved keys and folders use it), not the base model's name, not taken.</summary>
    private void CheckNewName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Contains('.') || name.Contains('/') || name == IAdapterRouting.BaseModelName)
            throw new ArgumentException($"'{name}' is not a valid adapter name (no dots, slashes or '{IAdapterRouting.BaseModelName}')");
        if (_adapters.ContainsKey(name)) throw new ArgumentException($"adapter '{name}' already exists; delete it or choose another name");
    }

    /// <summary>
    /// The one way an adapter gets onto the model: checks the name, injects through the catalog's guard, refuses
    /// non-finite parameters, and records the entry. With <paramref name="activate"/> a trainable adapter (or the
    /// first one) becomes the active adapter; without it (a hot reload restoring adapters) activity is left alone.
    /// </summary>
    private AdapterEntry Add(string name, IPeftMethod method, PeftConfig config, bool trainable, bool activate = true)
    {
        CheckNewName(name);
        config.InferenceMode = !trainable;
        // Through the catalog, so that the plugin host can name (and fail) a plugin that throws or
        // hangs; an adapter born with NaN or infinite parameters is the plugin's fault too.
        var adapter = _methods.Invoke(method, $"{method.Name}.Inject", () =>
        {
            var made = method.Inject(Surface, name, config);
            foreach (var (key, parameter) in made.NamedParameters())
            {
                if (ModelLoader.NonFiniteReport(parameter) is not { } problem) continue;
                made.Remove();
                throw new InvalidDataException($"{method.Name}.Inject made adapter '{name}' whose parameter '{key}' {problem}");
            }
            return made;
        });
        // New modules start in training mode (dropout active); align them with the model's mode.
        Base.train(Base.training);
        var entry = new AdapterEntry(name, method, adapter);
        _adapters[name] = entry;
        if (activate && (Routing.ActiveAdapters.Count == 0 || trainable)) SetAdapter(name);
        else SetTrainable(entry, trainable);
        _bus?.Log(Telemetry.LogLevel.Info, "peft", $"added {method.Name} adapter '{name}'");
        return entry;
    }

    private sealed class Scope(Action onDispose) : IDisposable
    {
        private Action? _onDispose = onDispose;
        public void Dispose() { _onDispose?.Invoke(); _onDispose = null; }
    }
}
