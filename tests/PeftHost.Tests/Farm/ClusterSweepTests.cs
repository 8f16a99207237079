using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftHost.Core.Peft;
using PeftHost.Farm;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Farm;

/// <summary>
/// A real cluster on this machine: Redis, three <c>peft farm</c> processes, each with a work folder of its own, and
/// <c>peft sweep --cluster</c> shipping the jobs (no shared path: the silos fetch the recipe and the model by content
/// hash and ship the outputs back). Six jobs complete with every result collected into the submitter's --out, a
/// silo's later jobs reuse the model it fetched for its first, and the silo running one job is killed (SIGKILL)
/// mid-job: the job is resumed on another silo from the checkpoint shipped back and ends with the adapter an
/// uninterrupted run makes. A submitter with another cluster key reaches none of its silos.
/// </summary>
public sealed class ClusterSweepTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [SkippableFact]
    public void A_sweep_of_six_jobs_completes_on_three_silos_and_a_killed_silos_job_resumes_elsewhere_with_the_same_adapter()
    {
        Skip.IfNot(File.Exists(FarmCluster.RedisServer), $"{FarmCluster.RedisServer} is missing (.ci/run installs redis-server)");
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        string sweep = Path.Combine(_h.Folder, "sweep");
        // The submitter's workspace: only the model, in a folder of its own.
        string workspace = Path.Combine(_h.Folder, "workspace");
        string model = Path.Combine(workspace, "models", "stories260k");
        Directory.CreateDirectory(model);
        foreach (string file in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "models", "stories260k")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        int modelFiles = Directory.GetFiles(model).Length;
        using var farm = new FarmCluster();
        farm.StartSilos(3, TimeSpan.FromSeconds(90));

        // Steps stretched to 300 ms, 16 of them, so that a job is still running seconds after its second checkpoint
        // appears, even when the machine is busy (the test polls for the checkpoint, then kills the silo).
        using var submitter = PeftProcess.Start(["sweep", recipe, "--grid", "r=4,8", "--grid", "lr=0.01,0.02,0.03", "--set", "steps=16", "--set", "stepMs=300",
            "--rank", "loss", "--out", sweep, "--workspace", workspace, "--cluster", farm.Address, "--cluster-key", farm.Key], FarmCluster.OneThread);
        const string victim = "r=4_lr=0.01";
        string checkpoint = Path.Combine(sweep, victim, "train", "checkpoints", "checkpoint-2");
        var until = DateTime.UtcNow.AddSeconds(120);
        while (!Directory.Exists(checkpoint))
        {
            Assert.False(submitter.HasExited, $"the sweep ended early:\n{submitter.Stderr}");
            Assert.True(DateTime.UtcNow < until, $"no {checkpoint} within 120 s:\n{submitter.Stderr}");
            Thread.Sleep(50);
        }
        var started = Regex.Match(submitter.Stderr, $@"{Regex.Escape(victim)}: started on [^:\s]+:(\d+)/slot1");
        Assert.True(started.Success, submitter.Stderr);
        farm.Silo(int.Parse(started.Groups[1].Value)).Kill();

        int code = submitter.WaitForExit(TimeSpan.FromSeconds(300));
        Assert.True(code == 0, $"stdout:\n{submitter.Stdout}\nstderr:\n{submitter.Stderr}");
        Assert.True(Regex.IsMatch(submitter.Stderr, $@"{Regex.Escape(victim)}: succeeded in [\d.]+ s on attempt 2, on \S+"),
            $"the killed silo's job was not resumed elsewhere:\n{submitter.Stderr}\nsilos:\n{string.Join("\n---\n", farm.Silos.Select(s => s.Stderr))}");

        var jobs = JsonNode.Parse(File.ReadAllText(Path.Combine(sweep, SweepSummary.FileName)))!["jobs"]!.AsArray();
        Assert.Equal(6, jobs.Count);
        foreach (var job in jobs)
        {
            string folder = Path.Combine(sweep, job!["name"]!.GetValue<string>());
            Assert.Equal("succeeded", job["state"]!.GetValue<string>());
            Assert.True(File.Exists(Path.Combine(folder, "adapter", AdapterFiles.WeightsFileName)), folder);
            Assert.Equal("succeeded", JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "run.json")))!["status"]!.GetValue<string>());
        }
        var metrics = jobs.Select(j => j!["metric"]!.GetValue<double>()).ToList();
        Assert.Equal(metrics.Order(), metrics);
        var resumed = Assert.Single(jobs, j => j!["attempts"]!.GetValue<int>() > 1)!;
        Assert.Equal(victim, resumed["name"]!.GetValue<string>());
        Assert.Contains("resumed from", File.ReadAllText(Path.Combine(sweep, victim, JobExecutor.StderrLog)));
        Assert.Contains("outputs are shipped back here", submitter.Stderr);

        // Each silo fetched each blob once: a silo's second job used the model its first one fetched. Six jobs on
        // three silos (one killed), so some silo ran several of them. (The workspace lies in the recipe's folder here,
        // so the model's files are inputs twice, as recipe/workspace/… and workspace/…: fetched once all the same.)
        var fetches = farm.Silos.Select(s => Regex.Matches(s.Stderr, @"fetched blob (\w+) \(\d+ bytes\) for [^:]+: \S*models/stories260k/").Select(m => m.Groups[1].Value).ToList()).ToList();
        Assert.All(fetches, f => Assert.Equal(f.Distinct().Count(), f.Count));
        int Started(PeftProcess silo) => Regex.Matches(silo.Stderr, @" started \(attempt \d+\)").Count;
        int busiest = Enumerable.Range(0, farm.Silos.Count).MaxBy(i => Started(farm.Silos[i]));
        Assert.True(Started(farm.Silos[busiest]) >= 2, farm.Silos[busiest].Stderr);
        Assert.Equal(modelFiles, fetches[busiest].Count);
        Assert.All(farm.Silos, s => Assert.True(Directory.EnumerateFiles(Path.Combine(farm.WorkFolder(s.Id), "blobs")).Any(), s.Stderr));
        // The surviving silos cleaned their job folders up (the killed one could not).
        Assert.Equal(2, farm.Silos.Count(s => !Directory.EnumerateFileSystemEntries(Path.Combine(farm.WorkFolder(s.Id), "jobs")).Any()));

        // A submitter with another key meets no silo of this farm: it says so, and no silo takes anything from it.
        string elsewhere = Path.Combine(_h.Folder, "stranger");
        using var stranger = PeftProcess.Start(["sweep", recipe, "--out", elsewhere, "--workspace", TestPaths.RepoRoot,
            "--cluster", farm.Address, "--cluster-key", "not-the-farm's-key-at-all", "--connect-timeout", "15"]);
        Assert.Equal(1, stranger.WaitForExit(TimeSpan.FromSeconds(90)));
        Assert.Contains("no silo of the farm", stranger.Stderr);
        Assert.Contains("same cluster key", stranger.Stderr);
        Assert.False(Directory.Exists(elsewhere));
        Assert.All(farm.Silos, s => Assert.DoesNotContain("/job started", s.Stderr));

        // The same job, never interrupted, in a process of its own.
        string straight = Path.Combine(_h.Folder, "straight");
        using (var reference = PeftProcess.Start(["run", recipe, "--out", straight, "--workspace", TestPaths.RepoRoot,
            "--set", "steps=16", "--set", "r=4", "--set", "lr=0.01"], FarmCluster.OneThread))
            Assert.True(reference.WaitForExit(TimeSpan.FromSeconds(120)) == 0, reference.Stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "adapter", AdapterFiles.WeightsFileName)),
            File.ReadAllBytes(Path.Combine(sweep, victim, "adapter", AdapterFiles.WeightsFileName)));
    }
}
