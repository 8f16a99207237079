namespace PeftHost.Core.Plugins;

/// <summary>Where a plugin stands.</summary>
public enum PluginState
{
    /// <summary>Loaded from its first build and serving its methods.</summary>
    Loaded,

    /// <summary>Not serving: it failed to load, targets another SDK major, or its code threw. See the reason.</summary>
    Failed,

    /// <summary>Loaded and hot-reloaded at least once; serving the latest build.</summary>
    Reloaded,
}

/// <summary>What a plugin export is.</summary>
public enum PluginExportKind
{
    /// <summary>An <see cref="PeftHost.Sdk.IPeftMethod"/>.</summary>
    Method,

    /// <summary>An <see cref="PeftHost.Sdk.IQuantizer"/>.</summary>
    Quantizer,
}

/// <summary>A method or quantizer a plugin provides, described by plain values only.</summary>
/// <param name="Name">The name recipes and the CLI use (<c>lora</c>, <c>nf4</c>).</param>
/// <param name="Kind">Method or quantizer.</param>
/// <param name="PeftType">The method's <c>peft_type</c>; null for quantizers.</param>
/// <param name="Description">The one-line description the plugin gives.</param>
/// <param name="TypeName">The implementing type's full name.</param>
public sealed record PluginExport(string Name, PluginExportKind Kind, string? PeftType, string Description, string TypeName);

/// <summary>
/// A snapshot of one plugin: where it came from, what it was built for, whether it works and
/// what it provides. Holds no reference to the plugin's types or objects, so keeping a snapshot
/// (in an event, a log, the dashboard) never keeps an unloaded plugin in memory.
/// </summary>
/// <param name="Name">The plugin's name: its folder and main assembly name.</param>
/// <param name="AssemblyPath">The main assembly's full path.</param>
/// <param name="Version">The plugin's own version (informational version, else assembly version); null when unreadable.</param>
/// <param name="SdkVersion">The <c>PeftHost.Sdk</c> version the plugin was compiled against; null when unreadable or not referenced.</param>
/// <param name="State">Loaded, Failed or Reloaded.</param>
/// <param name="FailureReason">Why the plugin failed; null unless <see cref="State"/> is Failed.</param>
/// <param name="LoadTimeMs">Milliseconds the last (re)load took, from reading the file to having instances.</param>
/// <param name="Exports">The methods and quantizers it provides (empty when it failed before discovery).</param>
/// <param name="Generation">1 for the first load, +1 per hot reload.</param>
/// <param name="LastReloadError">Why the last hot reload was refused while the previous build kept running; null when none.</param>
public sealed record PluginInfo(
    string Name,
    string AssemblyPath,
    string? Version,
    Version? SdkVersion,
    PluginState State,
    string? FailureReason,
    double LoadTimeMs,
    IReadOnlyList<PluginExport> Exports,
    int Generation,
    string? LastReloadError = null)
{
    /// <summary>The methods it provides.</summary>
    public IEnumerable<PluginExport> Methods => Exports.Where(e => e.Kind == PluginExportKind.Method);

    /// <summary>The quantizers it provides.</summary>
    public IEnumerable<PluginExport> Quantizers => Exports.Where(e => e.Kind == PluginExportKind.Quantizer);

    /// <summary>True when it serves its exports (Loaded or Reloaded).</summary>
    public bool IsServing => State != PluginState.Failed;

    /// <summary>The SDK version as three parts (<c>1.0.0</c>), or null.</summary>
    public string? SdkVersionText => SdkVersion is null ? null : FormatVersion(SdkVersion);

    /// <summary><c>major.minor.build</c> of <paramref name="version"/> (the revision is noise for SDK versions).</summary>
    public static string FormatVersion(Version version) => $"{version.Major}.{version.Minor}.{Math.Max(version.Build, 0)}";
}
