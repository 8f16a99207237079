using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>One adapter on the dashboard's model, as plain values.</summary>
/// <param name="Name">The adapter's name.</param>
/// <param name="Method">The method that made it (<c>lora</c>).</param>
/// <param name="PeftType">Its <c>peft_type</c>.</param>
/// <param name="IsActive">True for the active adapter.</param>
/// <param name="IsMerged">True when folded into the base weights.</param>
/// <param name="CanMerge">True when the method can merge it.</param>
/// <param name="Parameters">How many parameters it has.</param>
public sealed record AdapterSnapshot(string Name, string Method, string PeftType, bool IsActive, bool IsMerged, bool CanMerge, long Parameters);

/// <summary>The dashboard's current model, as plain values (safe to hand to the UI thread).</summary>
/// <param name="ModelPath">The model folder, or null when none is loaded.</param>
/// <param name="Description">Size and shape in a few words, or why there is no model.</param>
/// <param name="Trainable">Trainable parameters (PEFT's count).</param>
/// <param name="All">All parameters (PEFT's count).</param>
/// <param name="TensorBytes">Bytes held by the model's parameters and buffers.</param>
/// <param name="AdaptersDisabled">True while the base model runs alone (adapters bypassed).</param>
/// <param name="Adapters">The adapters, in the order they were added.</param>
public sealed record ModelSnapshot(string? ModelPath, string Description, long Trainable, long All, long TensorBytes, bool AdaptersDisabled,
    IReadOnlyList<AdapterSnapshot> Adapters)
{
    /// <summary>No model loaded.</summary>
    public static ModelSnapshot None(string why) => new(null, why, 0, 0, 0, false, []);

    /// <summary>Where the chat template of the answers now comes from (a file, or tokenizer_config.json's key); null when there is none.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Why there is no usable chat template (none in the folders, or the one there fails); null when there is one.</summary>
    public string? NoChatTemplate { get; init; }

    /// <summary>The active adapter, or null.</summary>
    public AdapterSnapshot? Active => Adapters.FirstOrDefault(a => a.IsActive);

    /// <summary>One line for the log and status: the model and its adapters.</summary>
    public string Summary => ModelPath is null ? Description
        : $"model {Path.GetFileName(Path.TrimEndingDirectorySeparator(ModelPath))}: {Description}; adapters: " +
          (Adapters.Count == 0 ? "none" : string.Join(", ", Adapters.Select(a => a.Name + (a.IsActive ? "*" : "") + (a.IsMerged ? " (merged)" : "")))) +
          (AdaptersDisabled ? " (disabled)" : "");
}

/// <summary>The dashboard's model changed: loaded, an adapter added, activated, merged, disabled…</summary>
/// <param name="Snapshot">How it stands now.</param>
public sealed record ModelChangedEvent(ModelSnapshot Snapshot) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => DashboardModel.EventSource;
}
