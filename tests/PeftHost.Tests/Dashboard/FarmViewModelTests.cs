using System.Text.RegularExpressions;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Farm;
using PeftHost.Tests.Farm;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>
/// The Farm panel's view-model against a real (embedded) farm: an Orleans silo in this process running a small sweep.
/// The model lists the silo with its slots, CPU and memory, and each job going queued → running (with its step, loss
/// and ETA) → succeeded, every row within 80 columns; without a cluster it says how to connect.
/// </summary>
public sealed class FarmViewModelTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task The_model_shows_the_silo_and_each_job_queued_then_running_with_step_and_loss_then_succeeded()
    {
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        string sweep = Guid.NewGuid().ToString("N");
        var jobs = new[] { "r=4", "r=8" }.Select(name => new FarmJob
        {
            Id = $"{sweep}/{name}",
            Sweep = sweep,
            Name = name,
            Recipe = recipe,
            Workspace = TestPaths.RepoRoot,
            OutputFolder = Path.Combine(_h.Folder, "sweep", name),
            // Slow steps: the polls (every 2 s from the worker) see the jobs mid-training.
            Assignments = ["steps=6", "stepMs=700", name],
        }).ToList();

        await using var silo = await FarmSilo.StartAsync(new FarmSiloOptions { Slots = 1 });
        var vm = new FarmViewModel(silo.Grains, "embedded");
        Assert.True(vm.Connected);
        var queue = silo.Grains.GetGrain<IJobQueueGrain>(IJobQueueGrain.Key);
        await queue.Submit(jobs);

        var seen = jobs.ToDictionary(j => j.Name, _ => new List<JobState>());
        JobStatus? midTraining = null;
        SiloLoad? load = null;
        var rows = new List<string>();
        var until = DateTime.UtcNow.AddMinutes(4);
        while (true)
        {
            await vm.PollAsync();
            Assert.Null(vm.Error);
            var overview = vm.Overview!;
            foreach (var j in overview.Jobs.Where(j => j.Job.Sweep == sweep))
            {
                if (seen[j.Job.Name].LastOrDefault() != j.State || seen[j.Job.Name].Count == 0) seen[j.Job.Name].Add(j.State);
                if (j is { State: JobState.Running, Progress: { Step: > 0 } p } && p.Step < p.TotalSteps && FarmViewModel.Eta(j) is not null) midTraining = j;
            }
            if (overview.Silos.Count > 0) load = overview.Silos[0];
            rows.AddRange(vm.SiloRows(80));
            rows.AddRange(vm.JobRows(80));
            if (overview.Jobs.Count(j => j.Job.Sweep == sweep && j.State is JobState.Succeeded or JobState.Failed) == jobs.Count) break;
            Assert.True(DateTime.UtcNow < until, "the sweep did not end within 4 minutes:\n" + string.Join("\n", vm.JobRows(80)));
            await Task.Delay(250);
        }

        foreach (var (name, states) in seen)
            Assert.True(states.SequenceEqual([JobState.Queued, JobState.Running, JobState.Succeeded]) || states.SequenceEqual([JobState.Running, JobState.Succeeded]),
                $"{name}: {string.Join(" → ", states)}");
        Assert.Equal([JobState.Queued, JobState.Running, JobState.Succeeded], seen["r=8"]); // one slot: the second waited
        Assert.NotNull(midTraining);
        Assert.Equal(6, midTraining.Progress!.TotalSteps);
        Assert.True(double.IsFinite(midTraining.Progress.Loss) && midTraining.Progress.Loss > 0, $"loss {midTraining.Progress.Loss}");
        Assert.StartsWith(FarmWorker.SiloName + "/", midTraining.Worker);

        Assert.NotNull(load);
        Assert.Equal(FarmWorker.SiloName, load.Name);
        Assert.Equal(1, load.Slots);
        Assert.True(load.MemoryBytes > 0);
        Assert.InRange(load.CpuPercent, 0, 100.5);

        var last = vm.JobRows(80);
        Assert.All(rows.Concat(last).Append(FarmViewModel.JobHeader(80)).Append(FarmViewModel.SiloHeader(80)), r => Assert.True(r.Length <= 80, $"{r.Length} columns: {r}"));
        Assert.Contains(rows, r => r.StartsWith("r=8") && r.Contains(" queued "));
        Assert.Contains(rows, r => r.StartsWith("r=4") && r.Contains(" running ") && r.Contains("/6 "));
        Assert.All(last.Where(r => r.StartsWith("r=")), r => Assert.True(Regex.IsMatch(r, @"^r=\d +succeeded +\S+ +6/6 +\d\.\d{4} +0:00:\d\d 1$"), r));
        Assert.Contains(FarmWorker.SiloName, Assert.Single(vm.SiloRows(80)));
        Assert.Contains("2 succeeded", vm.Summary());

        // A sweep its submitter collected and forgot is still listed, ended, until newer jobs push it out.
        await queue.Forget(sweep);
        await vm.PollAsync();
        Assert.Equal(2, vm.Overview!.Jobs.Count(j => j.Job.Sweep == sweep && j.State == JobState.Succeeded));
    }

    [Fact]
    public async Task Without_a_cluster_the_panel_says_how_to_connect()
    {
        var vm = new FarmViewModel(null);
        Assert.False(vm.Connected);
        await vm.PollAsync();
        Assert.Null(vm.Overview);
        Assert.Empty(vm.JobRows(80));
        Assert.Equal("no farm connected", vm.Summary());
        Assert.Contains("peft tui --cluster redis://HOST:PORT --cluster-key KEY", FarmViewModel.NotConnected);
        Assert.All(FarmViewModel.NotConnected.Split('\n'), line => Assert.True(line.Length <= 78, $"{line.Length} columns: {line}"));
    }
}
