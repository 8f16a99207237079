using System.Text.RegularExpressions;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Peft;
using PeftHost.Core.Recipes;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>
/// A run stopped from the dashboard leaves something usable: the Adapters panel offers its newest checkpoint and loads
/// it as an adapter, and Resume continues the run in its own folder with its own <c>--set</c> values to its end, as
/// <c>peft run RECIPE --resume DIR</c> does. Driven through the dashboard's own session (plugin host, job thread, recipe runtime).
/// </summary>
public sealed class StoppedRunTests : IDisposable
{
    private const string Recipe = """
        // A short LoRA run that checkpoints every 2 steps.
        import { defineParams, loadModel, getPeftModel, loadDataset, train, saveAdapter, log } from "peft";
        const p = defineParams({ steps: 40 });
        const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ["q_proj", "v_proj"] });
        const data = loadDataset([
          "Sparky the dragon lived in a big cave and liked to fly.",
          "Sparky the dragon found a red ball and gave it to Lily.",
          "Sparky the dragon baked a sweet cake for his mom.",
          "Tom had a red ball and a blue kite in the park.",
        ], { format: "text", maxLength: 24 });
        train(model, data, { maxSteps: p.steps, batchSize: 2, learningRate: 0.01, logEvery: 1, checkpointEvery: 2 });
        saveAdapter(model, "adapter");
        log("DONE");
        """;

    private readonly TempDir _dir = new();
    private readonly EventBus _events = new();
    private readonly EventPump _pump;
    private readonly DashboardSession _session;
    private readonly List<IHostEvent> _seen = [];
    private readonly AdaptersViewModel _adapters;

    public StoppedRunTests()
    {
        _pump = new EventPump(_events);
        Directory.CreateDirectory(_dir["recipes"]);
        File.WriteAllText(_dir["recipes/tiny.js"], Recipe);
        _session = new DashboardSession(new DashboardOptions
        {
            Workspace = TestPaths.RepoRoot, RecipesFolder = _dir["recipes"], RunsFolder = _dir["runs"], ModelPath = TestPaths.Stories260k, Device = "cpu",
        }, _events);
        _adapters = new AdaptersViewModel(_session.ModelCommands);
        _session.LoadInitialModel();
        Settle();
    }

    public void Dispose()
    {
        _session.Dispose();
        _pump.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void A_stopped_run_offers_its_newest_checkpoint_which_loads_as_an_adapter_and_resume_runs_it_to_completion()
    {
        var recipe = Assert.Single(_session.Recipes.List());
        // Ctrl-C once the first checkpoint is written: the run stops at the next step boundary, checkpointing there.
        using (_events.Subscribe<CheckpointEvent>(_ => _session.Runs.Stop()))
        {
            Assert.True(_session.Runs.Run(recipe, ["steps=12"]).Started);
            Settle();
        }
        Assert.Equal(JobOutcome.Cancelled, _seen.OfType<JobFinishedEvent>().Last().Outcome);
        string run = _session.Runs.LastOutputFolder!;
        Assert.Equal(RunStatus.Cancelled, RunRecord.Read(run)!.Status);
        Assert.False(Directory.Exists(Path.Combine(run, "adapter")));

        // (a) The Adapters panel is offered the newest checkpoint, and it loads as an adapter.
        var checkpoints = RunAdapters.Checkpoints(run);
        Assert.NotEmpty(checkpoints);
        string newest = checkpoints[^1];
        Assert.Equal(checkpoints.Max(c => int.Parse(Path.GetFileName(c)["checkpoint-".Length..], System.Globalization.CultureInfo.InvariantCulture)),
            int.Parse(Path.GetFileName(newest)["checkpoint-".Length..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(newest, _adapters.OfferRunOutputs(run));
        Assert.True(_adapters.Load(_adapters.OfferedFolder!).Started);
        Settle();
        Assert.Equal(JobOutcome.Succeeded, _seen.OfType<JobFinishedEvent>().Last().Outcome);
        var loaded = Assert.Single(_adapters.Model.Adapters);
        Assert.True(loaded.IsActive);
        Assert.Equal("lora", loaded.Method, ignoreCase: true);
        Assert.True(loaded.Parameters > 0);

        // (b) Resume: the interrupted run is found, and continued in its folder with run.json's --set values.
        Assert.Equal((run, RunStatus.Cancelled), _session.Runs.InterruptedRun(recipe));
        var resuming = _session.Runs.Resume(recipe);
        Assert.True(resuming.Started, resuming.Message);
        Assert.Equal($"resuming {Path.GetFileName(run)} --set steps=12", resuming.Message);
        Settle();
        var finished = _seen.OfType<JobFinishedEvent>().Last();
        Assert.True(finished.Outcome == JobOutcome.Succeeded, finished.Message);
        string logs = string.Join("\n", _seen.OfType<LogEvent>().Select(l => l.Message));
        Assert.Matches($@"resumed from {Regex.Escape(newest)} at step \d+", logs);
        Assert.Contains("DONE", logs);
        var record = RunRecord.Read(run)!;
        Assert.Equal(RunStatus.Succeeded, record.Status);
        Assert.Single(record.Resumed);
        Assert.Equal([new KeyValuePair<string, string>("steps", "12")], record.Parameters);
        Assert.Equal(12, _seen.OfType<TrainingFinishedEvent>().Last().Step);
        Assert.Single(Directory.GetDirectories(_dir["runs"])); // no second run folder

        // A completed run offers the adapter its recipe saved, and there is nothing left to resume.
        Assert.Equal(Path.Combine(run, "adapter"), RunAdapters.Offer(run));
        Assert.Null(_session.Runs.InterruptedRun(recipe));
        var again = _session.Runs.Resume(recipe);
        Assert.False(again.Started);
        Assert.Equal($"nothing to resume: no stopped or failed run of tiny.js in {_dir["runs"]}", again.Message);
    }

    [Fact]
    public void Resume_refuses_a_run_whose_recipe_changed_since_saying_so()
    {
        var recipe = Assert.Single(_session.Recipes.List());
        using (_events.Subscribe<CheckpointEvent>(_ => _session.Runs.Stop()))
        {
            Assert.True(_session.Runs.Run(recipe, ["steps=12"]).Started);
            Settle();
        }
        File.AppendAllText(recipe.Path, "// edited\n");
        var refused = _session.Runs.Resume(recipe);
        Assert.False(refused.Started);
        Assert.Contains("tiny.js changed since the run started", refused.Message);
        Assert.Equal(RunStatus.Cancelled, RunRecord.Read(_session.Runs.LastOutputFolder!)!.Status);
    }

    private void Settle()
    {
        Assert.True(_session.Jobs.WaitForIdle(TimeSpan.FromSeconds(120)), "the job did not finish");
        foreach (var e in _pump.Drain())
        {
            _seen.Add(e);
            _adapters.Apply(e);
        }
    }
}
