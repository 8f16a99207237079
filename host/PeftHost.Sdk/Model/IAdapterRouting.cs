namespace PeftHost.Sdk;

/// <summary>
/// Which adapters a forward pass uses. Layers that hold several adapters consult this at
/// forward time, as PEFT's layers consult <c>active_adapters</c> and <c>adapter_names</c>.
/// </summary>
public interface IAdapterRouting
{
    /// <summary>The name a batch row uses for "no adapter" in <see cref="RowAdapterNames"/>.</summary>
    public const string BaseModelName = "__base__";

    /// <summary>The active adapters, in order; usually one.</summary>
    IReadOnlyList<string> ActiveAdapters { get; }

    /// <summary>True inside a disable-adapter scope: the base model alone runs.</summary>
    bool AdaptersDisabled { get; }

    /// <summary>
    /// For mixed-adapter batches: one adapter name per batch row (<see cref="BaseModelName"/>
    /// for none), or null when every row uses <see cref="ActiveAdapters"/>.
    /// </summary>
    IReadOnlyList<string>? RowAdapterNames { get; }

    /// <summary>True when <paramref name="adapter"/> contributes to every row of this forward pass.</summary>
    bool IsActive(string adapter) => !AdaptersDisabled && RowAdapterNames is null && ActiveAdapters.Contains(adapter);
}
