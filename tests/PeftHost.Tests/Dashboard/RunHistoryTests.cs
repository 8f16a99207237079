using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Recipes;
using PeftHost.Core.Recipes.Api;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>The Run panel's history: runs found by their run.json, their loss curves and results, marked runs compared side by side.</summary>
public sealed class RunHistoryTests : IDisposable
{
    private readonly TempDir _runs = new();

    public void Dispose() => _runs.Dispose();

    private string Run(string name, string started, RunStatus status, (string Key, string Value)[] sets, string metrics)
    {
        string folder = _runs[name];
        Directory.CreateDirectory(Path.Combine(folder, "train"));
        new RunRecord
        {
            Recipe = "/somewhere/recipes/lora.js",
            RecipeSha256 = "00",
            Started = started,
            Parameters = sets.Select(s => new KeyValuePair<string, string>(s.Key, s.Value)).ToList(),
            Limits = new RecipeLimits(),
            Status = status,
        }.Write(folder);
        File.WriteAllText(Path.Combine(folder, "train", "metrics.jsonl"), metrics);
        return folder;
    }

    private static string Train(int step, double loss) => $"{{\"type\":\"train\",\"step\":{step},\"loss\":{loss}}}\n";

    [Fact]
    public void Runs_are_listed_newest_first_with_status_recipe_settings_and_final_loss()
    {
        Run("lora-a", "2026-12-07T01:00:00", RunStatus.Succeeded, [("steps", "4")],
            Train(1, 3.0) + Train(2, 2.5) + "{\"type\":\"eval\",\"step\":2,\"eval_loss\":2.75,\"eval_perplexity\":15.6}\n" + "{\"type\":\"finished\",\"step\":2,\"reason\":\"MaxSteps\",\"loss\":2.25}\n");
        Run("lora-b", "2026-12-07T02:00:00", RunStatus.Cancelled, [("steps", "8"), ("r", "4")], Train(1, 3.1) + "{\"type\":\"tra"); // killed mid-line
        Directory.CreateDirectory(_runs["not-a-run"]);
        Directory.CreateDirectory(_runs["broken"]);
        File.WriteAllText(_runs["broken/run.json"], "{ \"recipe\": 3 }");

        var history = new RunHistoryViewModel(_runs.Path, () => null);
        history.Refresh();
        Assert.Equal(["lora-b", "lora-a", "broken"], history.Runs.Select(r => r.Name)); // an unreadable run.json has no start: last
        var rows = history.FormatRows();
        Assert.Equal("  ■ lora-b  lora.js  loss 3.1000  steps=8 r=4", rows[0]);
        Assert.Equal("  ✓ lora-a  lora.js  loss 2.2500  steps=4", rows[1]);
        Assert.StartsWith("  ? broken  ?  no loss  ✗ ", rows[2]);
        Assert.Contains(Path.Combine("broken", "run.json"), rows[2]); // why it is unreadable, naming the file
        var a = history.Runs[1];
        Assert.Equal([(1.0, 3.0), (2.0, 2.5)], a.Losses);
        Assert.Equal(2.75, a.Evaluation["eval_loss"]);
    }

    [Fact]
    public void Marked_runs_are_compared_curves_overlaid_and_settings_and_results_side_by_side()
    {
        string a = Run("lora-a", "2026-12-07T01:00:00", RunStatus.Succeeded, [("steps", "4")],
            Train(1, 3.0) + Train(2, 2.0) + Train(4, 1.0) + "{\"type\":\"eval\",\"step\":4,\"eval_loss\":1.5}\n");
        Run("lora-b", "2026-12-07T02:00:00", RunStatus.Succeeded, [("steps", "2"), ("r", "16")], Train(1, 3.0) + Train(2, 2.8));
        string current = a;
        var history = new RunHistoryViewModel(_runs.Path, () => current);
        // The dashboard ran lora-a: the recipe's table arrives during its job and is kept for it.
        history.Apply(new JobStartedEvent(1, JobKind.Recipe, "lora.js"));
        history.Apply(new RecipeTableEvent("scores", ["accuracy", "f1"], [[new TableFormatter.Cell("0.9", true), new TableFormatter.Cell("0.8", true)]]));
        Assert.True(history.Apply(new JobFinishedEvent(1, JobKind.Recipe, "lora.js", JobOutcome.Succeeded, null, TimeSpan.FromSeconds(1))));

        Assert.Equal(["lora-b"], history.Compared.Select(r => r.Name)); // nothing marked: the selected run
        history.SelectedIndex = 0;
        Assert.Equal("marked lora-b: comparing 1 run", history.ToggleMark().Message);
        history.SelectedIndex = 1;
        history.ToggleMark();
        Assert.Equal(["* ✓ lora-b  lora.js  loss 2.8000  steps=2 r=16", "* ✓ lora-a  lora.js  loss 1.0000  steps=4"], history.FormatRows());

        var rows = history.CompareRows();
        Assert.Equal(["", "1 lora-b", "2 lora-a"], rows[0]);
        Assert.Contains(rows, r => r.SequenceEqual(["steps", "2", "4"]));
        Assert.Contains(rows, r => r.SequenceEqual(["r", "16", "(default)"]));
        Assert.Contains(rows, r => r.SequenceEqual(["final loss", "2.8000", "1.0000"]));
        Assert.Contains(rows, r => r.SequenceEqual(["eval_loss", "—", "1.5000"]));
        Assert.Contains(rows, r => r.SequenceEqual(["scores · accuracy", "—", "0.9"]));
        Assert.Contains(rows, r => r.SequenceEqual(["scores · f1", "—", "0.8"]));
        Assert.Contains(history.FormatCompare(), l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^final loss +2\.8000 +1\.0000$"));

        // One chart, both curves on shared axes, each ending in its number.
        var chart = history.CompareChart(40, 6);
        Assert.Equal(6, chart.Count);
        Assert.Contains('2', string.Concat(chart.Select(l => l[8..])));
        Assert.Contains('1', string.Concat(chart.Select(l => l[8..])));
        Assert.StartsWith("   3.", chart[0]); // the shared y range tops out at both runs' highest loss, 3.0

        history.SelectedIndex = 0;
        Assert.StartsWith("unmarked lora-b", history.ToggleMark().Message);
        Assert.Equal(["lora-a"], history.Compared.Select(r => r.Name));
    }

    [Fact]
    public void A_missing_runs_folder_has_no_runs_and_marking_says_so()
    {
        var history = new RunHistoryViewModel(_runs["nothing"], () => null);
        history.Refresh();
        Assert.Empty(history.Runs);
        Assert.False(history.ToggleMark().Started);
        Assert.Empty(history.Compared);
    }
}
