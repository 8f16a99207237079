using PeftHost.Cli.Dashboard.Session;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>What the Adapters panel can ask of the model (started as jobs; the outcome comes back as events).</summary>
public interface IAdapterCommands
{
    /// <summary>Makes <paramref name="name"/> the active adapter.</summary>
    CommandResult SetActive(string name);

    /// <summary>Bypasses every adapter, or stops bypassing them.</summary>
    CommandResult SetDisabled(bool disabled);

    /// <summary>Merges <paramref name="name"/> into the base weights, or unmerges it.</summary>
    CommandResult ToggleMerge(string name);

    /// <summary>Saves <paramref name="name"/> in PEFT's layout under <paramref name="directory"/>.</summary>
    CommandResult Save(string name, string directory);

    /// <summary>Loads the PEFT adapter folder <paramref name="directory"/>.</summary>
    CommandResult LoadAdapter(string directory);

    /// <summary>Loads the model folder <paramref name="directory"/> in place of the current model (its adapters go with it).</summary>
    CommandResult LoadModel(string directory);

    /// <summary>
    /// Writes a fresh copy of the model with the adapter folder <paramref name="directory"/> merged as one GGUF beside
    /// that folder (<c>NAME-merged.gguf</c>), as <c>peft export gguf --merge</c> does; the model in use is not touched.
    /// </summary>
    CommandResult ExportGguf(string directory);
}

/// <summary>
/// The Adapters panel: the adapters on the dashboard's model (from <see cref="ModelChangedEvent"/>),
/// the selected one, and the actions on it — set active, disable, merge, save, load — which go to
/// <see cref="IAdapterCommands"/>.
/// </summary>
public sealed class AdaptersViewModel(IAdapterCommands commands) : IEventSink
{
    /// <summary>The model as last reported.</summary>
    public ModelSnapshot Model { get; private set; } = ModelSnapshot.None("no model loaded yet");

    /// <summary>The selected adapter's index, or -1.</summary>
    public int SelectedIndex { get; set; } = -1;

    /// <summary>The selected adapter, or null.</summary>
    public AdapterSnapshot? Selected => SelectedIndex >= 0 && SelectedIndex < Model.Adapters.Count ? Model.Adapters[SelectedIndex] : null;

    /// <summary>The result of the last action (<c>merging 'default'…</c>, <c>busy: tiny-train.js is running</c>).</summary>
    public string? LastMessage { get; private set; }

    /// <inheritdoc />
    public bool Apply(IHostEvent e)
    {
        if (e is not ModelChangedEvent changed) return false;
        string? selected = Selected?.Name;
        Model = changed.Snapshot;
        int index = selected is null ? -1 : Model.Adapters.ToList().FindIndex(a => a.Name == selected);
        SelectedIndex = index >= 0 ? index : Model.Adapters.Count > 0 ? 0 : -1;
        return true;
    }

    /// <summary>The adapters as list lines: <c>* default  lora (LORA)  8,192 params  merged</c>.</summary>
    public IReadOnlyList<string> FormatRows(int width) => Model.Adapters.Select(a => DisplayFormat.Fit(
        $"{(a.IsActive ? "*" : " ")} {DisplayFormat.Fit(a.Name, 14)} {DisplayFormat.Fit($"{a.Method} ({a.PeftType})", 18)} {DisplayFormat.Count(a.Parameters),10} params" +
        (a.IsMerged ? "  merged" : "") + (a.IsActive && Model.AdaptersDisabled ? "  disabled" : ""), width)).ToList();

    /// <summary>The model line: path, size, parameters.</summary>
    public string ModelText => Model.ModelPath is null ? Model.Description
        : $"{Model.ModelPath} · {Model.Description} · trainable {DisplayFormat.Count(Model.Trainable)} · tensors {DisplayFormat.Bytes(Model.TensorBytes)}";

    /// <summary>Makes the selected adapter active.</summary>
    public CommandResult SetActive() => Act(a => commands.SetActive(a.Name));

    /// <summary>Disables adapters (base model alone) or enables them again.</summary>
    public CommandResult ToggleDisabled() => Remember(Model.ModelPath is null ? CommandResult.Refused("no model loaded") : commands.SetDisabled(!Model.AdaptersDisabled));

    /// <summary>Merges the selected adapter into the base weights, or unmerges it.</summary>
    public CommandResult ToggleMerge() => Act(a => a.CanMerge || a.IsMerged ? commands.ToggleMerge(a.Name) : CommandResult.Refused($"'{a.Name}' ({a.Method}) cannot be merged"));

    /// <summary>Saves the selected adapter under <paramref name="directory"/>.</summary>
    public CommandResult Save(string directory) =>
        Act(a => string.IsNullOrWhiteSpace(directory) ? CommandResult.Refused("give a folder to save into") : commands.Save(a.Name, directory.Trim()));

    /// <summary>Loads the adapter folder <paramref name="directory"/>.</summary>
    public CommandResult Load(string directory) => Remember(string.IsNullOrWhiteSpace(directory)
        ? CommandResult.Refused("give an adapter folder (adapter_config.json + adapter_model.safetensors)")
        : commands.LoadAdapter(directory.Trim()));

    /// <summary>Opens the model folder <paramref name="directory"/> as the dashboard's model, for the Adapters panel and the Playground.</summary>
    public CommandResult OpenModel(string directory) => Remember(string.IsNullOrWhiteSpace(directory)
        ? CommandResult.Refused("give a model folder (config.json, weights, tokenizer)")
        : commands.LoadModel(directory.Trim()));

    /// <summary>Exports the adapter folder <paramref name="directory"/> merged into a fresh copy of the model as a GGUF.</summary>
    public CommandResult ExportGguf(string directory) => Remember(
        Model.ModelPath is null ? CommandResult.Refused("no model loaded: open the model the adapter was trained on (o)")
        : string.IsNullOrWhiteSpace(directory) ? CommandResult.Refused("give the adapter or checkpoint folder to export (adapter_config.json + adapter_model.safetensors)")
        : commands.ExportGguf(directory.Trim()));

    /// <summary>
    /// The adapter folder a run left, to load or export: the adapter its recipe saved, or the newest checkpoint of a
    /// stopped run (<see cref="Recipes.RunAdapters.Offer"/>); null when the run left none. Kept in <see cref="OfferedFolder"/>.
    /// </summary>
    public string? OfferRunOutputs(string runFolder) => OfferedFolder = Recipes.RunAdapters.Offer(runFolder);

    /// <summary>The adapter folder the last run left (filled into the Load and Export fields), or null.</summary>
    public string? OfferedFolder { get; private set; }

    private CommandResult Act(Func<AdapterSnapshot, CommandResult> action) =>
        Remember(Selected is { } a ? action(a) : CommandResult.Refused(Model.ModelPath is null ? "no model loaded" : "no adapter selected"));

    private CommandResult Remember(CommandResult result)
    {
        LastMessage = result.Message;
        return result;
    }
}
