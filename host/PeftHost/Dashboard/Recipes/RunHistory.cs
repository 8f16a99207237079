using System.Text.Json;
using PeftHost.Core.Recipes;
using PeftHost.Core.Training.Metrics;
using PeftHost.Sdk;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>One run found in the runs folder: what <c>run.json</c> records and what its <c>metrics.jsonl</c> logged.</summary>
/// <param name="Folder">The run's output folder.</param>
/// <param name="Record">Its <c>run.json</c>; null when unreadable (<paramref name="Error"/> says why).</param>
/// <param name="Losses">The logged training losses by step (from <c>metrics.jsonl</c>).</param>
/// <param name="FinalLoss">The training's final loss (its finished line), else the last logged loss; null when none.</param>
/// <param name="Evaluation">The last evaluation's metrics (<c>eval_loss</c>…); empty when none.</param>
/// <param name="Error">Why the run's files cannot be read; null when they can.</param>
public sealed record RunSummary(string Folder, RunRecord? Record, IReadOnlyList<(double Step, double Loss)> Losses, double? FinalLoss,
    IReadOnlyDictionary<string, double> Evaluation, string? Error)
{
    /// <summary>The folder's name (<c>lora-20261207-013000</c>).</summary>
    public string Name => Path.GetFileName(Folder);

    /// <summary>The recipe's file name, or "?" when the record is unreadable.</summary>
    public string Recipe => Record is null ? "?" : Path.GetFileName(Record.Recipe);
}

/// <summary>
/// The runs in a runs folder: every sub-folder with a <c>run.json</c> (written when a run starts, by
/// <c>peft run</c> and the dashboard alike), newest first, with its loss curve and last evaluation
/// read from the <c>metrics.jsonl</c> its training wrote (the shallowest one in the folder).
/// </summary>
public static class RunHistory
{
    /// <summary>The runs in <paramref name="runsFolder"/>, newest start first; a missing folder has none.</summary>
    public static IReadOnlyList<RunSummary> List(string runsFolder)
    {
        if (!Directory.Exists(runsFolder)) return [];
        return Directory.EnumerateDirectories(runsFolder)
            .Where(d => File.Exists(Path.Combine(d, RunRecord.FileName)))
            .Select(Read)
            .OrderByDescending(r => r.Record?.Started ?? "", StringComparer.Ordinal)
            .ThenBy(r => r.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The run in <paramref name="folder"/>.</summary>
    public static RunSummary Read(string folder)
    {
        RunRecord? record;
        try { record = RunRecord.Read(folder); }
        catch (Exception e) when (e is ConfigException or IOException or UnauthorizedAccessException)
        {
            return new RunSummary(folder, null, [], null, new Dictionary<string, double>(), e.Message);
        }
        var losses = new List<(double, double)>();
        double? final = null;
        var evaluation = new Dictionary<string, double>();
        if (MetricsFile(folder) is { } metrics)
        {
            try
            {
                foreach (string line in File.ReadLines(metrics))
                {
                    if (Parse(line) is not { } json) continue; // a torn last line of a killed run
                    using (json)
                    {
                        var root = json.RootElement;
                        string? type = root.TryGetProperty("type", out var t) ? t.GetString() : null;
                        double step = root.TryGetProperty("step", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : double.NaN;
                        double? loss = root.TryGetProperty("loss", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetDouble() : null;
                        switch (type)
                        {
                            case "train" when loss is double value:
                                losses.Add((step, value));
                                final = value;
                                break;
                            case "finished" when loss is double value:
                                final = value;
                                break;
                            case "eval":
                                evaluation.Clear();
                                foreach (var p in root.EnumerateObject())
                                    if (p.Value.ValueKind == JsonValueKind.Number && p.Name != "step") evaluation[p.Name] = p.Value.GetDouble();
                                break;
                        }
                    }
                }
            }
            catch (IOException e) { return new RunSummary(folder, record, losses, final, evaluation, e.Message); }
        }
        return new RunSummary(folder, record, losses, final, evaluation, null);
    }

    private static string? MetricsFile(string folder)
    {
        try
        {
            return Directory.EnumerateFiles(folder, MetricsLog.FileName, SearchOption.AllDirectories)
                .OrderBy(f => f.Count(c => c == Path.DirectorySeparatorChar)).ThenBy(f => f, StringComparer.Ordinal).FirstOrDefault();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static JsonDocument? Parse(string line)
    {
        try { return JsonDocument.Parse(line); }
        catch (JsonException) { return null; }
    }
}
