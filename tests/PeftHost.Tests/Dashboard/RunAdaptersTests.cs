using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Core.Recipes;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>Which adapter folder a run's output folder offers to the Adapters panel: the saved adapter of a completed run, else the newest complete checkpoint.</summary>
public sealed class RunAdaptersTests
{
    private static void Checkpoint(string folder, int step, DateTime written, bool adapter = true, bool complete = true)
    {
        string path = Path.Combine(folder, "checkpoints", $"checkpoint-{step}");
        Directory.CreateDirectory(path);
        if (adapter) File.WriteAllText(Path.Combine(path, "adapter_config.json"), "{}");
        if (!complete) return;
        string state = Path.Combine(path, "trainer_state.json");
        File.WriteAllText(state, "{}");
        File.SetLastWriteTimeUtc(state, written);
    }

    private static void Record(string run, RunStatus status) => new RunRecord
    {
        Recipe = "/r.js", RecipeSha256 = "", Started = "2026-12-07T04:00:00Z", Parameters = [], Limits = new RecipeLimits(), Status = status,
    }.Write(run);

    [Fact]
    public void A_stopped_run_offers_its_newest_complete_checkpoint_with_an_adapter_across_its_trainings()
    {
        using var dir = new TempDir();
        string run = dir["run"];
        var t0 = new DateTime(2026, 12, 7, 4, 0, 0, DateTimeKind.Utc);
        Checkpoint(Path.Combine(run, "train"), 10, t0);
        Checkpoint(Path.Combine(run, "train"), 8, t0.AddMinutes(-1));
        Checkpoint(Path.Combine(run, "train-2"), 2, t0.AddMinutes(1));          // the second train(...) call: newer, though its step is lower
        Checkpoint(Path.Combine(run, "train-2"), 4, t0.AddMinutes(2), adapter: false); // no adapter in it: not loadable
        Checkpoint(Path.Combine(run, "train-2"), 6, t0.AddMinutes(3), complete: false); // no trainer state yet: incomplete
        Directory.CreateDirectory(Path.Combine(run, "adapter"));
        File.WriteAllText(Path.Combine(run, "adapter", "adapter_config.json"), "{}"); // saved before the stop
        Record(run, RunStatus.Cancelled);

        Assert.Equal([Path.Combine(run, "train", "checkpoints", "checkpoint-8"), Path.Combine(run, "train", "checkpoints", "checkpoint-10"),
            Path.Combine(run, "train-2", "checkpoints", "checkpoint-2")], RunAdapters.Checkpoints(run));
        Assert.Equal(Path.Combine(run, "train-2", "checkpoints", "checkpoint-2"), RunAdapters.Offer(run));
        Assert.Equal(Path.Combine(run, "adapter"), RunAdapters.Saved(run));

        // Completed, the run offers the adapter its recipe saved.
        Record(run, RunStatus.Succeeded);
        Assert.Equal(Path.Combine(run, "adapter"), RunAdapters.Offer(run));
    }

    [Fact]
    public void A_run_without_adapters_or_checkpoints_or_folder_offers_nothing()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["empty"]);
        Assert.Null(RunAdapters.Offer(dir["empty"]));
        Assert.Null(RunAdapters.Offer(dir["missing"]));
        Assert.Empty(RunAdapters.Checkpoints(dir["missing"]));
    }
}
