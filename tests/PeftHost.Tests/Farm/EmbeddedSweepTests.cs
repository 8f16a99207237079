using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;
using PeftHost.Core.Peft;
using PeftHost.Farm;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;
using PeftHost.Tests.Training;

namespace PeftHost.Tests.Farm;

/// <summary>
/// <c>peft sweep</c> without a cluster: an embedded silo in this process runs one job per grid combination exactly
/// as <c>peft run</c> would, ranks them by the recipe's table, and fails a job that fails for its own reason once.
/// </summary>
[Collection(TorchRngCollection.Name)] // adapters compared bit for bit with a peft run in this process
public sealed class EmbeddedSweepTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static (int Code, string Out, string Err) Sweep(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = PeftCli.Run(["sweep", .. args, "--workspace", TestPaths.RepoRoot], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Each_job_gets_what_peft_run_makes_and_the_summary_ranks_them_by_the_recipes_metric()
    {
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        string sweep = Path.Combine(_h.Folder, "sweep");
        var run = Sweep(recipe, "--grid", "r=4,8", "--set", "steps=3", "--rank", "loss", "--out", sweep);
        Assert.True(run.Code == 0, $"stdout:\n{run.Out}\nstderr:\n{run.Err}");

        string single = Path.Combine(_h.Folder, "single");
        var alone = RecipeHarness.RunFile(recipe, single, "--set", "steps=3", "--set", "r=8");
        Assert.True(alone.Code == 0, alone.Err);
        string job = Path.Combine(sweep, "r=8");
        Assert.Equal(File.ReadAllBytes(Path.Combine(single, "adapter", AdapterFiles.WeightsFileName)),
            File.ReadAllBytes(Path.Combine(job, "adapter", AdapterFiles.WeightsFileName)));
        // The job's folder is a run's folder: its run.json, metrics and logs, the recipe's output in stdout.log.
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(job, "run.json")))!;
        Assert.Equal("succeeded", record["status"]!.GetValue<string>());
        Assert.Equal("8", record["parameters"]!["r"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(job, "train", "metrics.jsonl")));
        Assert.Equal(alone.Out.Trim(), File.ReadAllText(Path.Combine(job, JobExecutor.StdoutLog)).Trim());

        var jobs = JsonNode.Parse(File.ReadAllText(Path.Combine(sweep, SweepSummary.FileName)))!["jobs"]!.AsArray();
        var losses = jobs.Select(j => j!["metric"]!.GetValue<double>()).ToList();
        Assert.Equal(2, losses.Count);
        Assert.True(losses[0] <= losses[1], $"ranked lowest loss first: {string.Join(", ", losses)}");
        Assert.All(jobs, j => Assert.Equal("succeeded", j!["state"]!.GetValue<string>()));
        Assert.Contains("ranked by loss (lower is better)", run.Out);
        Assert.Matches(@"(?m)^\s+1\s+r=\d", run.Out);
    }

    [Fact]
    public void A_job_whose_recipe_fails_fails_once_with_its_error_and_the_others_complete()
    {
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        string sweep = Path.Combine(_h.Folder, "sweep");
        var run = Sweep(recipe, "--grid", "r=4,8", "--set", "steps=2", "--set", "failR=8", "--rank", "loss", "--out", sweep);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains("1 of 2 jobs failed", run.Err);
        Assert.Contains("tune.js:3:", run.Err); // file:line of the throw
        var jobs = JsonNode.Parse(File.ReadAllText(Path.Combine(sweep, SweepSummary.FileName)))!["jobs"]!.AsArray();
        var failed = Assert.Single(jobs, j => j!["state"]!.GetValue<string>() == "failed")!;
        Assert.Equal("r=8", failed["name"]!.GetValue<string>());
        Assert.Equal(1, failed["attempts"]!.GetValue<int>());
        Assert.Contains("r=8 is refused by this recipe", failed["error"]!.GetValue<string>());
        Assert.Contains("r=8 is refused by this recipe", File.ReadAllText(Path.Combine(sweep, "r=8", JobExecutor.StderrLog)));
        Assert.Equal("succeeded", jobs[0]!["state"]!.GetValue<string>()); // the ranked one first, the failed one last
    }

    [Theory]
    [InlineData("--grid", "r=")]
    [InlineData("--grid", "r=4,4")]
    [InlineData("--rank-order", "up")]
    [InlineData("--cluster", "http://127.0.0.1:6379")]
    [InlineData("--cluster-key", "short")]
    public void Malformed_options_are_usage_errors(string option, string value)
    {
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        var run = Sweep(recipe, option, value, "--out", Path.Combine(_h.Folder, "never"));
        Assert.Equal(PeftCli.UsageError, run.Code);
        Assert.Contains(option, run.Err);
        Assert.False(Directory.Exists(Path.Combine(_h.Folder, "never")));
    }

    [Fact]
    public void A_sweep_refuses_a_folder_that_holds_something()
    {
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        string used = Path.Combine(_h.Folder, "used");
        Directory.CreateDirectory(used);
        File.WriteAllText(Path.Combine(used, "notes.txt"), "mine");
        var run = Sweep(recipe, "--grid", "r=4", "--out", used);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains("is not empty", run.Err);
        Assert.Equal(["notes.txt"], Directory.EnumerateFileSystemEntries(used).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("--tls-cert", "goes with --cluster")]
    [InlineData("--shared-storage", "goes with --cluster")]
    [InlineData("--tls-key", "go with --tls-cert")]
    public void Farm_only_options_without_a_farm_are_refused_by_name(string option, string message)
    {
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        string certificate = _h.Write("farm.pem", "-----BEGIN CERTIFICATE-----\n");
        string[] given = option switch
        {
            "--shared-storage" => [option],
            "--tls-cert" => [option, certificate, "--tls-key", certificate],
            _ => [option, certificate],
        };
        var run = Sweep([recipe, .. given, "--out", Path.Combine(_h.Folder, "never")]);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains(message, run.Err);
        Assert.False(Directory.Exists(Path.Combine(_h.Folder, "never")));
    }

    [Fact]
    public void An_unreadable_certificate_is_refused_naming_its_file()
    {
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        string certificate = _h.Write("farm.pfx", "not a certificate");
        var run = Sweep(recipe, "--tls-cert", certificate, "--cluster", "redis://127.0.0.1:1", "--cluster-key", "0123456789abcdef", "--out", Path.Combine(_h.Folder, "never"));
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains(certificate, run.Err);
        Assert.Contains("cannot read the certificate", run.Err);
        Assert.False(Directory.Exists(Path.Combine(_h.Folder, "never")));
    }
}
