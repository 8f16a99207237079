using System.Globalization;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Core.Recipes;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>
/// The Run panel's history (<c>h</c>): every run in the runs folder (the dashboard's own and those of
/// <c>peft run</c>, found by their <c>run.json</c>) with status, recipe, --set values and final loss;
/// runs marked with Space are compared: their loss curves overlaid in one chart and their settings,
/// final losses, last evaluations and — for runs this dashboard started — the recipe's
/// <c>table(...)</c> results side by side.
/// </summary>
/// <param name="runsFolder">The runs folder.</param>
/// <param name="currentRun">The output folder of the run the dashboard started last (its tables are kept).</param>
public sealed class RunHistoryViewModel(string runsFolder, Func<string?> currentRun)
{
    private readonly Dictionary<string, List<RecipeTable>> _tables = new(StringComparer.Ordinal);
    private readonly HashSet<string> _marked = new(StringComparer.Ordinal);
    private string? _tablesFor;

    /// <summary>The runs, newest first (as of the last <see cref="Refresh"/>).</summary>
    public IReadOnlyList<RunSummary> Runs { get; private set; } = [];

    /// <summary>The selected run's index, or -1.</summary>
    public int SelectedIndex { get; set; } = -1;

    /// <summary>The runs compared: the marked ones (in list order), else the selected one.</summary>
    public IReadOnlyList<RunSummary> Compared
    {
        get
        {
            var marked = Runs.Where(r => _marked.Contains(r.Folder)).ToList();
            if (marked.Count > 0) return marked;
            return SelectedIndex >= 0 && SelectedIndex < Runs.Count ? [Runs[SelectedIndex]] : [];
        }
    }

    /// <summary>Re-reads the runs folder, keeping the selection on the same run and the marks.</summary>
    public void Refresh()
    {
        string? selected = SelectedIndex >= 0 && SelectedIndex < Runs.Count ? Runs[SelectedIndex].Folder : null;
        Runs = RunHistory.List(runsFolder);
        _marked.RemoveWhere(f => Runs.All(r => r.Folder != f));
        int index = selected is null ? -1 : Runs.ToList().FindIndex(r => r.Folder == selected);
        SelectedIndex = index >= 0 ? index : Runs.Count > 0 ? 0 : -1;
    }

    /// <summary>Keeps the recipe's tables of the run the dashboard runs; a finished recipe job re-reads the folder. True when the history changed.</summary>
    public bool Apply(IHostEvent e)
    {
        switch (e)
        {
            case JobStartedEvent { Kind: JobKind.Recipe }:
                _tablesFor = currentRun();
                return false;
            case RecipeTableEvent table when _tablesFor is { } folder:
                if (!_tables.TryGetValue(folder, out var list)) _tables[folder] = list = [];
                list.Add(new RecipeTable(table.Title, table.Columns, table.Rows));
                return false;
            case JobFinishedEvent { Kind: JobKind.Recipe }:
                Refresh();
                return true;
            default:
                return false;
        }
    }

    /// <summary>Marks or unmarks the selected run for comparison; returns what happened.</summary>
    public CommandResult ToggleMark()
    {
        if (SelectedIndex < 0 || SelectedIndex >= Runs.Count) return CommandResult.Refused($"no runs in {runsFolder}");
        var run = Runs[SelectedIndex];
        bool marked = _marked.Add(run.Folder) || !_marked.Remove(run.Folder);
        int count = _marked.Count;
        return CommandResult.Ok($"{(marked ? "marked" : "unmarked")} {run.Name}: comparing {(count == 0 ? "the selected run" : $"{count} run{(count == 1 ? "" : "s")}")}");
    }

    /// <summary>True when <paramref name="run"/> is marked for comparison.</summary>
    public bool IsMarked(RunSummary run) => _marked.Contains(run.Folder);

    /// <summary>The recipe's tables of <paramref name="run"/>, for runs this dashboard started (empty otherwise).</summary>
    public IReadOnlyList<RecipeTable> TablesOf(RunSummary run) => _tables.TryGetValue(run.Folder, out var list) ? list : [];

    /// <summary>The runs as list rows: <c>* ✓ lora-20261207-013000  lora.js  loss 1.2345  steps=12 r=4</c> (* marked).</summary>
    public IReadOnlyList<string> FormatRows() => Runs.Select(r =>
        $"{(IsMarked(r) ? "*" : " ")} {StatusMark(r)} {r.Name}  {r.Recipe}  {(r.FinalLoss is double l ? "loss " + Number(l) : "no loss")}" +
        (r.Record is { Parameters.Count: > 0 } record ? "  " + string.Join(" ", record.Parameters.Select(p => $"{p.Key}={p.Value}")) : "") +
        (r.Error is { } error ? "  ✗ " + error : "")).ToList();

    /// <summary>The compared runs' training losses in one chart (shared axes); each curve ends in its number.</summary>
    public IReadOnlyList<string> CompareChart(int width, int height)
    {
        var runs = Compared;
        double xMax = runs.SelectMany(r => r.Losses).Select(p => p.Step).DefaultIfEmpty(1).Max();
        return LineChart.Overlay(runs.Select(r => r.Losses).ToList(), 0, xMax, width, height, marked: runs.Count > 1);
    }

    /// <summary>
    /// The compared runs side by side: a header row (the curve numbers and run names), then status,
    /// recipe, every --set value, final loss, the last evaluation's metrics and the recipe's table cells.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> CompareRows()
    {
        var runs = Compared;
        var rows = new List<IReadOnlyList<string>>
        {
            runs.Select((r, i) => runs.Count > 1 ? $"{i + 1} {r.Name}" : r.Name).Prepend("").ToList(),
            Row("status", r => r.Record?.Status.ToString().ToLowerInvariant() ?? "unreadable"),
            Row("recipe", r => r.Recipe),
        };
        foreach (string key in runs.SelectMany(r => r.Record?.Parameters.Select(p => p.Key) ?? []).Distinct())
            rows.Add(Row(key, r => r.Record?.Parameters.LastOrDefault(p => p.Key == key).Value ?? "(default)"));
        rows.Add(Row("final loss", r => r.FinalLoss is double l ? Number(l) : "—"));
        foreach (string metric in runs.SelectMany(r => r.Evaluation.Keys).Distinct().Order(StringComparer.Ordinal))
            rows.Add(Row(metric, r => r.Evaluation.TryGetValue(metric, out double v) ? Number(v) : "—"));
        foreach (string key in runs.SelectMany(TableKeys).Distinct())
            rows.Add(Row(key, r => TableCells(r).GetValueOrDefault(key, "—")));
        return rows;

        IReadOnlyList<string> Row(string name, Func<RunSummary, string> cell) => runs.Select(cell).Prepend(name).ToList();
    }

    /// <summary><see cref="CompareRows"/> as aligned text lines, each run's column as wide as its widest cell.</summary>
    public IReadOnlyList<string> FormatCompare()
    {
        var rows = CompareRows();
        int columns = rows[0].Count;
        var widths = Enumerable.Range(0, columns).Select(c => rows.Max(r => r[c].Length)).ToList();
        return rows.Select(r => string.Join("  ", r.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()).ToList();
    }

    private IEnumerable<string> TableKeys(RunSummary run) => TableCells(run).Keys;

    /// <summary>The run's table cells by a key naming the table, its row (when several) and column: <c>results · accuracy</c>.</summary>
    private Dictionary<string, string> TableCells(RunSummary run)
    {
        var cells = new Dictionary<string, string>(StringComparer.Ordinal);
        var tables = TablesOf(run);
        for (int t = 0; t < tables.Count; t++)
        {
            var table = tables[t];
            string title = table.Title ?? $"table {t + 1}";
            for (int row = 0; row < table.Rows.Count; row++)
                for (int c = 0; c < table.Columns.Count && c < table.Rows[row].Count; c++)
                    cells[table.Rows.Count == 1 ? $"{title} · {table.Columns[c]}" : $"{title} {row + 1} · {table.Columns[c]}"] = table.Rows[row][c].Text;
        }
        return cells;
    }

    private static string StatusMark(RunSummary run) => run.Record?.Status switch
    {
        RunStatus.Succeeded => "✓",
        RunStatus.Failed => "✗",
        RunStatus.Cancelled => "■",
        RunStatus.Running => "●",
        _ => "?",
    };

    private static string Number(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture);
}
