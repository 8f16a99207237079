using System.Diagnostics;
using System.Text;
using PeftHost.Cli.Commands;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Runtime;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Tokenization;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>
/// The dashboard's current model: a base model with its tokenizer, wrapped in a
/// <see cref="PeftModel"/> so adapters can be loaded, switched, disabled, merged and saved, and a
/// playground that streams answers from it. Every member that touches the model runs on the job
/// thread (through <see cref="Jobs.JobRunner"/>); what the UI sees of it is the
/// <see cref="ModelChangedEvent"/> snapshot and the generation events, so the same state is
/// available headless.
/// </summary>
public sealed class DashboardModel : IDisposable
{
    /// <summary>The <see cref="IHostEvent.Source"/> of model and generation events.</summary>
    public const string EventSource = "model";

    private readonly EventBus _events;
    private readonly IMethodCatalog _methods;
    private readonly PluginHost? _reloads;
    private ModelSession? _session;
    private IDisposable? _disabled;
    private readonly string _device;

    /// <summary>An empty model slot; methods for adapters come from <paramref name="methods"/>.</summary>
    /// <param name="events">Receives snapshots and generation events.</param>
    /// <param name="methods">Where adapter methods come from (the plugin host in production).</param>
    /// <param name="reloads">When given, the model's adapters take part in this host's hot reloads.</param>
    /// <param name="device">Where loaded models run: auto, cpu, cuda, cuda:N.</param>
    public DashboardModel(EventBus events, IMethodCatalog methods, PluginHost? reloads = null, string device = "auto")
    {
        _events = events;
        _methods = methods;
        _reloads = reloads;
        _device = device;
    }

    /// <summary>The PEFT model, or null before a model is loaded.</summary>
    public PeftModel? Peft => _session?.Peft;

    /// <summary>The model folder, or null.</summary>
    public string? ModelPath => _session?.Folder;

    /// <summary>Loads the model folder <paramref name="modelDir"/> (weights and tokenizer) in float32, replacing the current one.</summary>
    public void Load(string modelDir)
    {
        var tokenizer = TokenizerLoader.Load(modelDir);
        // A quantized folder takes its quantizer from the plugin host.
        var model = ModelLoader.Load(modelDir, TorchSharp.torch.ScalarType.Float32, DeviceSelector.Resolve(_device), _reloads);
        Attach(model, tokenizer, modelDir);
    }

    /// <summary>Takes <paramref name="model"/> (and its tokenizer, needed for the playground) as the current model.</summary>
    public void Attach(CausalLanguageModel model, TextTokenizer? tokenizer, string? modelPath)
    {
        Release();
        _session = new ModelSession(model, modelPath, tokenizer);
        _session.OpenPeft(_methods, _events, _reloads is null ? null : peft => _reloads.RegisterReloadParticipant(peft));
        Publish();
    }

    /// <summary>
    /// Loads the PEFT adapter folder <paramref name="directory"/> as <paramref name="name"/> (default: the
    /// folder's name, or <c>default</c> for the first adapter) and makes it active.
    /// </summary>
    public string LoadAdapter(string directory, string? name = null)
    {
        var peft = RequirePeft();
        name ??= AdapterNameFor(directory, peft);
        peft.LoadAdapter(directory, name);
        peft.SetAdapter(name);
        Publish();
        return name;
    }

    /// <summary>Makes <paramref name="name"/> the active adapter (and re-enables adapters).</summary>
    public void SetActive(string name)
    {
        var peft = RequirePeft();
        peft.SetAdapter(name);
        SetDisabledCore(false);
        Publish();
    }

    /// <summary>Bypasses every adapter (the base model alone) or stops bypassing them.</summary>
    public void SetDisabled(bool disabled)
    {
        RequirePeft();
        SetDisabledCore(disabled);
        Publish();
    }

    /// <summary>Merges <paramref name="name"/> into the base weights, or unmerges it when it already is.</summary>
    /// <returns>True when the adapter is merged afterwards.</returns>
    public bool ToggleMerge(string name)
    {
        var peft = RequirePeft();
        var adapter = peft[name].Adapter;
        if (adapter.IsMerged) adapter.Unmerge();
        else peft.MergeAdapter([name]);
        Publish();
        return adapter.IsMerged;
    }

    /// <summary>Saves <paramref name="name"/> in PEFT's layout at <paramref name="directory"/> (a non-default adapter goes to a subfolder named after it).</summary>
    /// <returns>The folder written.</returns>
    public string Save(string name, string directory)
    {
        var peft = RequirePeft();
        peft.SaveAdapter(directory, [name]);
        string folder = AdapterFiles.FolderFor(directory, name);
        _events.Log(LogLevel.Info, EventSource, $"saved adapter '{name}' to {folder}");
        return folder;
    }

    /// <summary>
    /// Answers <paramref name="prompt"/> twice — with the active adapter, then with the base model
    /// alone — streaming each answer as <see cref="GenerationTextEvent"/>s. With no adapter (or
    /// adapters disabled) only the base answers.
    /// </summary>
    public void Generate(int requestId, string prompt, GenerationOptions options, CancellationToken cancellation)
    {
        var peft = RequirePeft();
        var tokenizer = _session!.TryTokenizer() ?? throw new InvalidOperationException("the model has no tokenizer: the playground needs one");
        var clock = Stopwatch.StartNew();
        string? adapter = _disabled is null ? peft.ActiveAdapter : null;
        _events.Publish(new GenerationStartedEvent(requestId, prompt, adapter));
        int tokens = 0;
        string? error = null;
        try
        {
            var ids = tokenizer.Encode(prompt, addBos: true);
            var generator = new TextGenerator(peft.Base);
            void Answer(GenerationLane lane)
            {
                var detokenizer = new IncrementalDetokenizer(tokenizer, ids);
                void Publish(string delta)
                {
                    if (delta.Length > 0) _events.Publish(new GenerationTextEvent(requestId, lane, delta));
                }
                generator.Generate([ids], options, (_, token) => { tokens++; Publish(detokenizer.Add(token)); }, cancellation);
                Publish(detokenizer.Flush());
            }
            if (adapter is not null) Answer(GenerationLane.Adapter);
            using (peft.DisableAdapter()) Answer(GenerationLane.Base);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            error = "cancelled";
            throw;
        }
        catch (Exception e)
        {
            error = e.Message;
            throw;
        }
        finally
        {
            _events.Publish(new GenerationFinishedEvent(requestId, tokens, clock.Elapsed, error));
        }
    }

    /// <summary>The model as plain values.</summary>
    public ModelSnapshot Snapshot()
    {
        if (_session?.Peft is not { } peft) return ModelSnapshot.None("no model loaded");
        var model = _session.Model;
        var (trainable, all) = peft.CountParameters();
        long bytes = model.parameters().Sum(p => p.numel() * p.ElementSize) + model.buffers().Sum(b => b.numel() * b.ElementSize);
        var active = peft.ActiveAdapter;
        var adapters = peft.Adapters.Select(a => new AdapterSnapshot(
            a.Name, a.Method.Name, a.Method.PeftType, a.Name == active, a.Adapter.IsMerged, a.Adapter.CanMerge,
            a.Adapter.NamedParameters().Sum(p => p.Parameter.numel()))).ToList();
        var c = model.Config;
        string description = $"{DisplayCount(all)} parameters, {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, vocab {c.VocabSize}, {model.Device.type.ToString().ToLowerInvariant()}";
        return new ModelSnapshot(_session.Folder, description, trainable, all, bytes, _disabled is not null, adapters);
    }

    /// <summary>Publishes the current snapshot.</summary>
    public void Publish() => _events.Publish(new ModelChangedEvent(Snapshot()));

    /// <summary>Releases the model.</summary>
    public void Dispose() => Release();

    private void Release()
    {
        _disabled?.Dispose();
        _disabled = null;
        _session?.Dispose();
        _session = null;
    }

    private void SetDisabledCore(bool disabled)
    {
        if (disabled && _disabled is null) _disabled = _session!.Peft!.DisableAdapter();
        else if (!disabled && _disabled is not null) { _disabled.Dispose(); _disabled = null; }
    }

    private PeftModel RequirePeft() => _session?.Peft ?? throw new InvalidOperationException("no model loaded: load one first (peft tui --model DIR)");

    private static string AdapterNameFor(string directory, PeftModel peft)
    {
        if (peft.Adapters.Count == 0) return AdapterFiles.DefaultAdapterName;
        var name = new StringBuilder();
        foreach (char ch in Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))))
            name.Append(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' ? ch : '_');
        string baseName = name.Length == 0 ? "adapter" : name.ToString();
        string candidate = baseName;
        for (int i = 2; peft.Adapters.Any(a => a.Name == candidate); i++) candidate = $"{baseName}_{i}";
        return candidate;
    }

    private static string DisplayCount(long n) => ViewModels.DisplayFormat.ShortCount(n);
}
