using System.Globalization;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>One plugin as the Plugins panel lists it.</summary>
/// <param name="Name">The plugin's name.</param>
/// <param name="Provides">What it serves: <c>method lora</c>, <c>quantizers nf4, fp4</c>, or <c>-</c>.</param>
/// <param name="Version">Its version, or <c>?</c>.</param>
/// <param name="Sdk">The SDK version it was built for, or <c>?</c>.</param>
/// <param name="State"><c>Loaded</c>, <c>Reloaded</c> (with the generation) or <c>Failed</c>.</param>
/// <param name="Reason">Why it failed, or why its last reload was refused; null when fine.</param>
/// <param name="Info">The snapshot behind the row.</param>
public sealed record PluginRow(string Name, string Provides, string Version, string Sdk, string State, string? Reason, PluginInfo Info)
{
    /// <summary>True when the plugin does not serve (its row is marked).</summary>
    public bool IsFailed => Info.State == PluginState.Failed;
}

/// <summary>
/// The Plugins panel: one row per plugin with its exports, version and state, kept current from
/// <see cref="PluginLoadedEvent"/>, <see cref="PluginReloadedEvent"/> and <see cref="PluginFailedEvent"/>;
/// a reload or failure also becomes the panel's latest-change line.
/// </summary>
public sealed class PluginsViewModel : IEventSink
{
    private readonly List<PluginRow> _rows = [];

    /// <summary>The plugins, in the order they were first seen.</summary>
    public IReadOnlyList<PluginRow> Rows => _rows;

    /// <summary>What changed last (<c>lora reloaded 0.1.0 → 0.1.1 in 412 ms, 1 re-attached</c>), or null.</summary>
    public string? LastChange { get; private set; }

    /// <summary>The index of the selected row, or -1.</summary>
    public int SelectedIndex { get; set; } = -1;

    /// <summary>The selected row, or null.</summary>
    public PluginRow? Selected => SelectedIndex >= 0 && SelectedIndex < _rows.Count ? _rows[SelectedIndex] : null;

    /// <summary>Starts from the host's current plugins (those loaded before the dashboard subscribed).</summary>
    public void Seed(IEnumerable<PluginInfo> plugins)
    {
        foreach (var p in plugins) Upsert(p);
        if (SelectedIndex < 0 && _rows.Count > 0) SelectedIndex = 0;
    }

    /// <inheritdoc />
    public bool Apply(IHostEvent e)
    {
        switch (e)
        {
            case PluginLoadedEvent loaded:
                Upsert(loaded.Plugin);
                LastChange = $"{loaded.Plugin.Name} loaded ({Provides(loaded.Plugin)})";
                break;
            case PluginReloadedEvent reloaded:
                Upsert(reloaded.Plugin);
                LastChange = PluginEventText.From(reloaded)!.Value.Message;
                break;
            case PluginFailedEvent failed:
                Upsert(failed.Plugin);
                LastChange = PluginEventText.From(failed)!.Value.Message;
                break;
            default:
                return false;
        }
        if (SelectedIndex < 0) SelectedIndex = 0;
        return true;
    }

    /// <summary>The detail lines of the selected plugin: path, exports with descriptions, load time, reason.</summary>
    public IReadOnlyList<string> Details()
    {
        if (Selected is not { } row) return ["no plugins found (build plugins/ or pass --plugins DIR)"];
        var p = row.Info;
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"{p.Name} {p.Version ?? "?"} · SDK {p.SdkVersionText ?? "?"} · {row.State} · loaded in {p.LoadTimeMs:0.0} ms"),
            p.AssemblyPath,
        };
        foreach (var export in p.Exports)
        {
            string kind = export.Kind == PluginExportKind.Method ? $"method {export.Name} ({export.PeftType})" : $"quantizer {export.Name}";
            lines.Add($"  {kind}: {export.Description}");
        }
        if (row.Reason is not null) lines.Add((p.State == PluginState.Failed ? "failed: " : "last reload refused: ") + row.Reason);
        return lines;
    }

    /// <summary>The rows as aligned text lines for a list <paramref name="width"/> columns wide (the reason is in the details).</summary>
    public IReadOnlyList<string> FormatRows(int width)
    {
        const int nameWidth = 16, versionWidth = 10, sdkWidth = 7, stateWidth = 12;
        int providesWidth = Math.Max(8, width - nameWidth - versionWidth - sdkWidth - stateWidth - 4);
        return _rows.Select(r => DisplayFormat.Fit(
            DisplayFormat.Fit(r.Name, nameWidth) + " " + DisplayFormat.Fit(r.Provides, providesWidth) + " " +
            DisplayFormat.Fit(r.Version, versionWidth) + " " + DisplayFormat.Fit(r.Sdk, sdkWidth) + " " + (r.IsFailed ? "✗ " : "✓ ") + r.State, width)).ToList();
    }

    /// <summary>The header line matching <see cref="FormatRows"/>.</summary>
    public static string Header(int width)
    {
        const int nameWidth = 16, versionWidth = 10, sdkWidth = 7, stateWidth = 12;
        int providesWidth = Math.Max(8, width - nameWidth - versionWidth - sdkWidth - stateWidth - 4);
        return DisplayFormat.Fit(DisplayFormat.Fit("PLUGIN", nameWidth) + " " + DisplayFormat.Fit("PROVIDES", providesWidth) + " " +
            DisplayFormat.Fit("VERSION", versionWidth) + " " + DisplayFormat.Fit("SDK", sdkWidth) + " STATE", width);
    }

    private void Upsert(PluginInfo info)
    {
        var row = ToRow(info);
        int index = _rows.FindIndex(r => string.Equals(r.Name, info.Name, StringComparison.OrdinalIgnoreCase));
        if (index >= 0) _rows[index] = row;
        else _rows.Add(row);
    }

    private static PluginRow ToRow(PluginInfo p)
    {
        string state = p.State switch
        {
            PluginState.Reloaded => $"Reloaded ×{Math.Max(1, p.Generation - 1)}",
            _ => p.State.ToString(),
        };
        string? reason = p.FailureReason ?? p.LastReloadError;
        return new PluginRow(p.Name, Provides(p), p.Version ?? "?", p.SdkVersionText ?? "?", state, reason, p);
    }

    private static string Provides(PluginInfo p)
    {
        var methods = p.Methods.Select(m => m.Name).ToList();
        var quantizers = p.Quantizers.Select(q => q.Name).ToList();
        var parts = new List<string>();
        if (methods.Count > 0) parts.Add((methods.Count == 1 ? "method " : "methods ") + string.Join(", ", methods));
        if (quantizers.Count > 0) parts.Add((quantizers.Count == 1 ? "quantizer " : "quantizers ") + string.Join(", ", quantizers));
        return parts.Count == 0 ? "-" : string.Join("; ", parts);
    }
}
