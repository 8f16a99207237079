using System.Globalization;
using System.Text.Json.Nodes;
using PeftHost.Core.IO;
using PeftHost.Core.Recipes.Api;
using Cell = PeftHost.Core.Recipes.Api.TableFormatter.Cell;

namespace PeftHost.Farm;

/// <summary>
/// The sweep's results: one row per job with its grid values, state, silo, attempts, time and the ranking metric —
/// a column of the recipe's own <c>table(...)</c> output, the cell of that table's last row. Jobs are ranked by it
/// (lowest first for names ending in <c>loss</c> or <c>perplexity</c>/<c>ppl</c>, else highest first, as Hugging
/// Face's <c>greater_is_better</c> defaults); jobs without it or that failed come last, in grid order.
/// </summary>
public sealed class SweepSummary
{
    /// <summary>The summary's file in the sweep's output folder.</summary>
    public const string FileName = "sweep.json";

    private readonly IReadOnlyList<string> _gridKeys;
    private readonly string? _metric;
    private readonly bool _greaterIsBetter;
    private readonly List<JobStatus> _ranked;

    /// <summary>Ranks <paramref name="jobs"/> by <paramref name="metric"/> (null: grid order).</summary>
    public SweepSummary(IReadOnlyList<JobStatus> jobs, IReadOnlyList<string> gridKeys, string? metric, bool? greaterIsBetter)
    {
        _gridKeys = gridKeys;
        _metric = metric;
        _greaterIsBetter = greaterIsBetter ?? (metric is not null && !IsLowerBetter(metric));
        var order = jobs.Select((j, i) => (Job: j, Index: i)).ToList();
        _ranked = order
            .OrderBy(x => Value(x.Job) is null ? 1 : 0)
            .ThenBy(x => Value(x.Job) is double v ? (_greaterIsBetter ? -v : v) : 0)
            .ThenBy(x => x.Index)
            .Select(x => x.Job).ToList();
    }

    /// <summary>Whether a metric of this name is better when lower (losses, perplexities).</summary>
    public static bool IsLowerBetter(string metric)
    {
        string m = metric.ToLowerInvariant();
        return m.EndsWith("loss", StringComparison.Ordinal) || m.Contains("perplexity", StringComparison.Ordinal) || m.EndsWith("ppl", StringComparison.Ordinal);
    }

    /// <summary>The jobs, best first.</summary>
    public IReadOnlyList<JobStatus> Ranked => _ranked;

    /// <summary>The job's metric as a number; null when it failed or printed no such column.</summary>
    public double? Value(JobStatus job) =>
        _metric is not null && job.State == JobState.Succeeded && job.Outcome!.Results.TryGetValue(_metric, out var text)
        && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v : null;

    /// <summary>The ranking as an aligned table.</summary>
    public string Table()
    {
        var columns = new List<string> { "rank", "job" };
        columns.AddRange(_gridKeys);
        columns.AddRange(["state", "silo", "attempts", "seconds"]);
        if (_metric is not null) columns.Add(_metric);
        var rows = _ranked.Select((job, i) =>
        {
            var values = job.Job.Assignments.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
            var row = new List<Cell> { Number(i + 1), new(job.Job.Name, false) };
            row.AddRange(_gridKeys.Select(k => new Cell(values.GetValueOrDefault(k, ""), true)));
            row.Add(new(job.State.ToString().ToLowerInvariant(), false));
            row.Add(new(job.Worker ?? "", false));
            row.Add(Number(job.Attempts));
            row.Add(job.Outcome is { } o ? new(o.Seconds.ToString("F1", CultureInfo.InvariantCulture), true) : new("", false));
            if (_metric is not null) row.Add(Value(job) is double v ? Number(v) : new("", false));
            return (IReadOnlyList<Cell>)row;
        }).ToList();
        string title = _metric is null ? $"sweep: {_ranked.Count} jobs" : $"sweep: {_ranked.Count} jobs ranked by {_metric} ({(_greaterIsBetter ? "higher" : "lower")} is better)";
        return TableFormatter.Format(columns, rows, title);
    }

    /// <summary>Writes <see cref="FileName"/> into <paramref name="folder"/> (atomically): every job, its values, state, error and results.</summary>
    public void Write(string folder)
    {
        var jobs = new JsonArray();
        foreach (var job in _ranked)
        {
            jobs.Add(new JsonObject
            {
                ["name"] = job.Job.Name,
                ["folder"] = job.Job.OutputFolder,
                ["parameters"] = new JsonObject(job.Job.Assignments.Select(a => a.Split('=', 2)).Select(p => new KeyValuePair<string, JsonNode?>(p[0], p[1]))),
                ["state"] = job.State.ToString().ToLowerInvariant(),
                ["worker"] = job.Worker,
                ["attempts"] = job.Attempts,
                ["seconds"] = job.Outcome?.Seconds,
                ["metric"] = Value(job),
                ["error"] = job.Outcome?.Error,
                ["results"] = new JsonObject((job.Outcome?.Results ?? []).Select(r => new KeyValuePair<string, JsonNode?>(r.Key, r.Value))),
            });
        }
        var json = new JsonObject { ["metric"] = _metric, ["greaterIsBetter"] = _metric is null ? null : _greaterIsBetter, ["jobs"] = jobs };
        AtomicFile.WriteAllText(Path.Combine(folder, FileName), json.ToJsonString(Json.Indented));
    }

    private static Cell Number(double v) => new(TableFormatter.Number(v), true);
}
