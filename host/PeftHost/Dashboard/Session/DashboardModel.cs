using System.Diagnostics;
using System.Text;
using PeftHost.Cli.Commands;
using PeftHost.Core.Chat;
using PeftHost.Core.Export.Gguf;
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
/// <para>
/// The model is one shared state: an answer "with the adapter" and one "without" differ only by the
/// model-wide adapter switch, and generation, loading and merging all change or read it. So every
/// member holds <see cref="_gate"/> for its whole use of the model: two callers (the job thread and a
/// headless client, or two requests) never interleave, and the base answer's adapter bypass cannot
/// leak into a concurrent adapter answer.
/// </para>
/// </summary>
public sealed class DashboardModel : IDisposable
{
    /// <summary>The <see cref="IHostEvent.Source"/> of model and generation events.</summary>
    public const string EventSource = "model";

    private readonly object _gate = new();
    private readonly EventBus _events;
    private readonly Dictionary<string, string> _adapterFolders = [];
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
        if (!Directory.Exists(modelDir)) throw new DirectoryNotFoundException($"{modelDir}: no such model folder");
        var tokenizer = TokenizerLoader.Load(modelDir);
        // A quantized folder takes its quantizer from the plugin host.
        var model = ModelLoader.Load(modelDir, TorchSharp.torch.ScalarType.Float32, DeviceSelector.Resolve(_device), _reloads);
        Attach(model, tokenizer, modelDir);
    }

    /// <summary>Takes <paramref name="model"/> (and its tokenizer, needed for the playground) as the current model.</summary>
    public void Attach(CausalLanguageModel model, TextTokenizer? tokenizer, string? modelPath)
    {
        lock (_gate)
        {
            Release();
            _session = new ModelSession(model, modelPath, tokenizer);
            _session.OpenPeft(_methods, _events, _reloads is null ? null : peft => _reloads.RegisterReloadParticipant(peft));
            Publish();
        }
    }

    /// <summary>
    /// Loads the PEFT adapter folder <paramref name="directory"/> as <paramref name="name"/> (default: the
    /// folder's name, or <c>default</c> for the first adapter) and makes it active.
    /// </summary>
    public string LoadAdapter(string directory, string? name = null)
    {
        lock (_gate)
        {
            var peft = RequirePeft();
            name ??= AdapterNameFor(directory, peft);
            peft.LoadAdapter(directory, name);
            peft.SetAdapter(name);
            _adapterFolders[name] = Path.GetFullPath(directory);
            Publish();
            return name;
        }
    }

    /// <summary>Makes <paramref name="name"/> the active adapter (and re-enables adapters).</summary>
    public void SetActive(string name)
    {
        lock (_gate)
        {
            var peft = RequirePeft();
            peft.SetAdapter(name);
            SetDisabledCore(false);
            Publish();
        }
    }

    /// <summary>Bypasses every adapter (the base model alone) or stops bypassing them.</summary>
    public void SetDisabled(bool disabled)
    {
        lock (_gate)
        {
            RequirePeft();
            SetDisabledCore(disabled);
            Publish();
        }
    }

    /// <summary>Merges <paramref name="name"/> into the base weights, or unmerges it when it already is.</summary>
    /// <returns>True when the adapter is merged afterwards.</returns>
    public bool ToggleMerge(string name)
    {
        lock (_gate)
        {
            var peft = RequirePeft();
            var adapter = peft[name].Adapter;
            if (adapter.IsMerged) adapter.Unmerge();
            else peft.MergeAdapter([name]);
            Publish();
            return adapter.IsMerged;
        }
    }

    /// <summary>Saves <paramref name="name"/> in PEFT's layout at <paramref name="directory"/> (a non-default adapter goes to a subfolder named after it).</summary>
    /// <returns>The folder written.</returns>
    public string Save(string name, string directory)
    {
        string folder;
        lock (_gate)
        {
            RequirePeft().SaveAdapter(directory, [name]);
            folder = AdapterFiles.FolderFor(directory, name);
        }
        _events.Log(LogLevel.Info, EventSource, $"saved adapter '{name}' to {folder}");
        return folder;
    }

    /// <summary>
    /// Answers <paramref name="prompt"/> twice — with the active adapter, then with the base model
    /// alone — streaming each answer as <see cref="GenerationTextEvent"/>s. With no adapter (or
    /// adapters disabled) only the base answers.
    /// </summary>
    public void Generate(int requestId, string prompt, GenerationOptions options, CancellationToken cancellation) =>
        AnswerBothLanes(requestId, prompt, cancellation, (peft, tokenizer) =>
        {
            var ids = tokenizer.Encode(prompt, addBos: true);
            var generator = new TextGenerator(peft.Base);
            return (lane, text, token) =>
            {
                var detokenizer = new IncrementalDetokenizer(tokenizer, ids);
                generator.Generate([ids], options, (_, id) => { token(); text(detokenizer.Add(id)); }, cancellation);
                text(detokenizer.Flush());
            };
        });

    /// <summary>
    /// Answers the chat turn <paramref name="request"/> twice, like <see cref="Generate"/>: each lane's
    /// conversation is rendered with the chat template (the active adapter's, else the model's) and its
    /// reply streams until the model ends its turn. Both prompts are checked before either answer starts.
    /// </summary>
    public void Chat(int requestId, ChatRequest request, GenerationOptions options, CancellationToken cancellation) =>
        AnswerBothLanes(requestId, request.Message, cancellation, (peft, tokenizer) =>
        {
            var template = ChatTemplateNow() ?? throw new ChatTemplateException(NoChatTemplate());
            var stops = ChatStopTokens.For(_session!.Folder, tokenizer, peft.Base.Config.EosTokenIds);
            var chat = new ChatGenerator(peft.Base, tokenizer, template, stops);
            foreach (var lane in Enum.GetValues<GenerationLane>()) chat.Check(request.Messages(lane), options);
            return (lane, text, token) => chat.Reply(request.Messages(lane), options, text, cancellation, onToken: _ => token());
        });

    /// <summary>
    /// The frame of both playground modes: under the model's gate, publishes the start, lets
    /// <paramref name="prepare"/> check the request and make the per-lane answer, runs it with the active
    /// adapter (when there is one) and then with adapters bypassed, and always publishes the end (with the
    /// error, when one stopped it).
    /// </summary>
    private void AnswerBothLanes(int requestId, string prompt, CancellationToken cancellation,
        Func<PeftModel, TextTokenizer, Action<GenerationLane, Action<string>, Action>> prepare)
    {
        lock (_gate)
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
                var answer = prepare(peft, tokenizer);
                void Answer(GenerationLane lane) => answer(lane,
                    delta => { if (delta.Length > 0) _events.Publish(new GenerationTextEvent(requestId, lane, delta)); },
                    () => tokens++);
                if (adapter is not null) Answer(GenerationLane.Adapter);
                cancellation.ThrowIfCancellationRequested();
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
    }

    /// <summary>
    /// Writes the adapter folder <paramref name="adapterDir"/> merged into this model as one model GGUF (f32, the
    /// type <c>peft export gguf --merge</c> writes by default) at <paramref name="target"/>, with its Ollama Modelfile.
    /// The merge is done on a fresh copy of the model folder, loaded for the export alone: the model in use, its
    /// adapters and their merged state are not touched, so it needs no lock and the answers stay as they were.
    /// </summary>
    public MergedGgufResult ExportMergedGguf(string adapterDir, string target)
    {
        string modelDir = ModelPath ?? throw new InvalidOperationException("no model loaded: open the model to export the adapter with (o)");
        var result = MergedGgufExport.Write(modelDir, adapterDir, target, GgmlType.F32, _methods, _reloads,
            warning => _events.Log(LogLevel.Warning, EventSource, $"export GGUF: {warning}"));
        _events.Log(LogLevel.Info, EventSource, $"exported {target}: {modelDir} with {adapterDir} merged, {result.Tensors.Count} tensors, " +
            $"{GgmlTypes.Name(GgmlType.F32)}, {result.Bytes:N0} bytes; {result.ModelfilePath} beside it (ollama create NAME -f it)");
        return result;
    }

    /// <summary>The model as plain values.</summary>
    public ModelSnapshot Snapshot()
    {
        lock (_gate) return SnapshotCore();
    }

    private ModelSnapshot SnapshotCore()
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
        string? chatTemplate = null, noChatTemplate = null;
        try { chatTemplate = ChatTemplateNow()?.Origin; }
        catch (ChatTemplateException e) { noChatTemplate = e.Message; }
        if (chatTemplate is null) noChatTemplate ??= NoChatTemplate();
        return new ModelSnapshot(_session.Folder, description, trainable, all, bytes, _disabled is not null, adapters)
        {
            ChatTemplate = chatTemplate,
            NoChatTemplate = noChatTemplate,
        };
    }

    /// <summary>Publishes the current snapshot.</summary>
    public void Publish() => _events.Publish(new ModelChangedEvent(Snapshot()));

    /// <summary>Releases the model.</summary>
    public void Dispose()
    {
        lock (_gate) Release();
    }

    /// <summary>
    /// The chat template for the answers now: the active adapter's folder's (an adapter saved by a chat
    /// fine-tune carries it), else the model folder's; null when neither has one.
    /// </summary>
    /// <exception cref="ChatTemplateException">A template is present but unusable (the message names its file).</exception>
    private ChatTemplate? ChatTemplateNow()
    {
        if (_session?.Folder is not { } folder) return null;
        string? adapterFolder = _disabled is null && _session.Peft?.ActiveAdapter is { } active && _adapterFolders.TryGetValue(active, out var f) ? f : null;
        return ChatTemplate.ForModel(folder, adapterFolder);
    }

    private string NoChatTemplate()
    {
        string model = _session?.Folder is { } folder ? Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)) : "this model";
        return $"{model} has no chat template";
    }

    private void Release()
    {
        _adapterFolders.Clear();
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
