using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Sdk;

namespace PeftHost.Core.Plugins;

/// <summary>One line of <c>peft plugins</c>: a method or quantizer, or a failed plugin that got no further than loading.</summary>
/// <param name="Name">The method or quantizer name; for a plugin that failed before discovery, the plugin's name.</param>
/// <param name="Kind"><c>method</c>, <c>quantizer</c> or <c>plugin</c>.</param>
/// <param name="PeftType">The method's <c>peft_type</c>, or null.</param>
/// <param name="Assembly">The plugin assembly's file name.</param>
/// <param name="AssemblyPath">Its full path.</param>
/// <param name="Version">The plugin's version.</param>
/// <param name="SdkVersion">The SDK version it was built for.</param>
/// <param name="State">Loaded, Failed or Reloaded.</param>
/// <param name="Reason">Why it failed (or why its last reload was refused); null when fine.</param>
/// <param name="LoadTimeMs">How long its last load took.</param>
public sealed record PluginReportRow(string Name, string Kind, string? PeftType, string Assembly, string AssemblyPath,
    string? Version, string? SdkVersion, string State, string? Reason, double LoadTimeMs);

/// <summary>Formats the plugin host's state for <c>peft plugins</c>: a table for people, JSON for tools.</summary>
public static class PluginReport
{
    /// <summary>One row per export; one row for a plugin with no known exports.</summary>
    public static IReadOnlyList<PluginReportRow> Rows(IEnumerable<PluginInfo> plugins)
    {
        var rows = new List<PluginReportRow>();
        foreach (var p in plugins)
        {
            string? reason = p.FailureReason ?? (p.LastReloadError is null ? null : $"last reload refused: {p.LastReloadError}");
            PluginReportRow Row(string name, string kind, string? peftType) => new(name, kind, peftType, Path.GetFileName(p.AssemblyPath),
                p.AssemblyPath, p.Version, p.SdkVersionText, p.State.ToString(), reason, Math.Round(p.LoadTimeMs, 1));
            if (p.Exports.Count == 0) rows.Add(Row(p.Name, "plugin", null));
            foreach (var e in p.Exports.OrderBy(e => e.Kind).ThenBy(e => e.Name, StringComparer.Ordinal))
                rows.Add(Row(e.Name, e.Kind == PluginExportKind.Method ? "method" : "quantizer", e.PeftType));
        }
        return rows;
    }

    /// <summary>The rows as a JSON array of objects (camelCase keys).</summary>
    public static JsonArray ToJson(IEnumerable<PluginReportRow> rows) => new(rows.Select(r => (JsonNode)new JsonObject
    {
        ["name"] = r.Name,
        ["kind"] = r.Kind,
        ["peftType"] = r.PeftType,
        ["assembly"] = r.Assembly,
        ["assemblyPath"] = r.AssemblyPath,
        ["version"] = r.Version,
        ["sdkVersion"] = r.SdkVersion,
        ["state"] = r.State,
        ["reason"] = r.Reason,
        ["loadTimeMs"] = r.LoadTimeMs,
    }).ToArray());

    /// <summary>
    /// An aligned table, then the failure reasons (too long for a column) as numbered notes, then
    /// the folders searched and the host's SDK version.
    /// </summary>
    public static string FormatTable(IReadOnlyList<PluginReportRow> rows, IReadOnlyList<string> roots)
    {
        var sb = new StringBuilder();
        if (rows.Count == 0)
        {
            sb.AppendLine("no plugins found");
        }
        else
        {
            var notes = new List<string>();
            string[] header = ["NAME", "KIND", "PEFT TYPE", "ASSEMBLY", "VERSION", "SDK", "STATE", "LOAD MS"];
            var cells = rows.Select(r =>
            {
                string state = r.State;
                if (r.Reason is not null)
                {
                    int index = notes.IndexOf(r.Reason);
                    if (index < 0) { notes.Add(r.Reason); index = notes.Count - 1; }
                    state += $" [{index + 1}]";
                }
                return new[]
                {
                    r.Name, r.Kind, r.PeftType ?? "-", r.Assembly, r.Version ?? "?", r.SdkVersion ?? "?", state,
                    r.LoadTimeMs.ToString("0.0", CultureInfo.InvariantCulture),
                };
            }).ToList();
            var widths = header.Select((h, i) => Math.Max(h.Length, cells.Max(c => c[i].Length))).ToArray();
            AppendLine(sb, header, widths);
            foreach (var c in cells) AppendLine(sb, c, widths);
            if (notes.Count > 0) sb.AppendLine();
            for (int i = 0; i < notes.Count; i++) sb.AppendLine($"[{i + 1}] {notes[i]}");
        }
        sb.AppendLine();
        sb.AppendLine(roots.Count == 0 ? "plugin folders: none found" : "plugin folders: " + string.Join(Path.PathSeparator, roots));
        sb.AppendLine($"host SDK: {PluginInfo.FormatVersion(SdkVersion.Current)}");
        return sb.ToString();
    }

    private static void AppendLine(StringBuilder sb, string[] cells, int[] widths)
    {
        for (int i = 0; i < cells.Length; i++)
        {
            if (i > 0) sb.Append("  ");
            sb.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i]));
        }
        sb.AppendLine();
    }
}
