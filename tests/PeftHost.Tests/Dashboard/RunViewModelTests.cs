using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using static PeftHost.Tests.Dashboard.DashboardEvents;

namespace PeftHost.Tests.Dashboard;

/// <summary>The Run panel from job and training events: progress, ETA, series, metrics, results, states.</summary>
public sealed class RunViewModelTests
{
    private static RunViewModel Started(string name = "tiny-train.js")
    {
        var vm = new RunViewModel();
        vm.Apply(new JobStartedEvent(1, JobKind.Recipe, name));
        return vm;
    }

    [Fact]
    public void Step_events_give_progress_fraction_eta_and_the_loss_series()
    {
        var vm = Started();
        Assert.Equal(RunState.Running, vm.State);
        Assert.Equal("waiting for the first training step…", vm.ProgressText);

        vm.Apply(Step(10, total: 40, loss: 2.5, etaSeconds: 192));
        vm.Apply(Step(20, total: 40, loss: 2.25, tokensPerSecond: 1500.4, etaSeconds: 8));

        Assert.Equal(0.5, vm.Fraction);
        Assert.Equal(20, vm.Step);
        Assert.Equal(40, vm.TotalSteps);
        Assert.Equal("step 20/40 · epoch 2.00 · ETA 0:00:08", vm.ProgressText);
        Assert.Equal([(10.0, 2.5), (20.0, 2.25)], vm.TrainLossSeries);
        Assert.Equal(1500.4, vm.TokensPerSecond);
        Assert.Equal("loss 2.2500 · eval - · lr 3.00e-04 · grad 0.8000 · 1,500 tok/s", vm.MetricsText);
        Assert.Equal("● running tiny-train.js", vm.StatusText);
    }

    [Fact]
    public void Evaluations_make_the_eval_series_and_the_results_table()
    {
        var vm = Started();
        vm.Apply(Step(10, loss: 2.5));
        vm.Apply(Evaluation(10, 2.4));
        vm.Apply(Step(20, loss: 2.1));
        vm.Apply(Evaluation(20, 2.2));

        Assert.Equal([(10.0, 2.4), (20.0, 2.2)], vm.EvalLossSeries);
        Assert.Equal(2.2, vm.EvalLoss);
        Assert.Equal(["step", "eval_loss", "eval_perplexity"], vm.ResultColumns);
        var table = vm.FormatResults(80);
        Assert.Equal(3, table.Count);
        Assert.Equal("step  eval_loss  eval_perplexity", table[0]);
        Assert.Equal("  10     2.4000          11.0232", table[1]);
        Assert.Equal("  20     2.2000           9.0250", table[2]);
    }

    [Fact]
    public void A_finished_run_reads_as_finished_with_the_checkpoint_and_full_progress()
    {
        var vm = Started();
        vm.Apply(Step(40, total: 40, loss: 1.9));
        vm.Apply(new CheckpointEvent("run-1", 40, "/runs/x/checkpoint-40", []));
        vm.Apply(new TrainingFinishedEvent("run-1", 40, TrainingStopReason.Completed, null, 1.9, TimeSpan.FromSeconds(12), "/runs/x/checkpoint-40"));
        vm.Apply(new JobFinishedEvent(1, JobKind.Recipe, "tiny-train.js", JobOutcome.Succeeded, null, TimeSpan.FromSeconds(13)));

        Assert.Equal(RunState.Succeeded, vm.State);
        Assert.Equal(1.0, vm.Fraction);
        Assert.Equal("/runs/x/checkpoint-40", vm.LastCheckpoint);
        Assert.Equal("✓ finished tiny-train.js in 0:00:13", vm.StatusText);
        Assert.Equal("step 40/40 · epoch 4.00 · elapsed 0:00:13", vm.ProgressText);
        Assert.False(vm.IsActive);
    }

    [Fact]
    public void Ctrl_c_shows_stopping_then_stopped_at_the_step_with_its_checkpoint()
    {
        var vm = Started();
        vm.Apply(Step(12));
        vm.Apply(new JobCancellingEvent(1, JobKind.Recipe, "tiny-train.js"));
        Assert.Equal(RunState.Stopping, vm.State);
        Assert.StartsWith("■ stopping tiny-train.js: checkpoint at the next step boundary", vm.StatusText);

        vm.Apply(new TrainingFinishedEvent("run-1", 13, TrainingStopReason.Cancelled, null, 2.0, TimeSpan.FromSeconds(5), "/runs/x/checkpoint-13"));
        vm.Apply(new JobFinishedEvent(1, JobKind.Recipe, "tiny-train.js", JobOutcome.Cancelled, "cancelled", TimeSpan.FromSeconds(5)));
        Assert.Equal(RunState.Cancelled, vm.State);
        Assert.Equal("■ stopped tiny-train.js at step 13, checkpoint checkpoint-13", vm.StatusText);
    }

    [Fact]
    public void A_failed_recipe_shows_why_and_a_new_run_starts_afresh()
    {
        var vm = Started("broken.js");
        vm.Apply(Step(5));
        vm.Apply(Evaluation(5, 3.0));
        vm.Apply(new JobFinishedEvent(1, JobKind.Recipe, "broken.js", JobOutcome.Failed, "broken.js:3:7: TypeError: x is undefined", TimeSpan.FromSeconds(1)));
        Assert.Equal("✗ broken.js failed: broken.js:3:7: TypeError: x is undefined", vm.StatusText);

        vm.Apply(new JobStartedEvent(2, JobKind.Recipe, "tiny-train.js"));
        Assert.Empty(vm.TrainLossSeries);
        Assert.Empty(vm.Results);
        Assert.Equal(0, vm.Fraction);
        Assert.Null(vm.Message);
    }

    [Fact]
    public void A_second_training_run_in_one_recipe_restarts_the_curves()
    {
        var vm = Started();
        vm.Apply(Step(10, runId: "a"));
        vm.Apply(Evaluation(10, 2.0, runId: "a"));
        vm.Apply(Step(5, runId: "b", loss: 3.0));
        Assert.Equal([(5.0, 3.0)], vm.TrainLossSeries);
        Assert.Empty(vm.EvalLossSeries);
        Assert.Single(vm.Results); // the results table keeps every evaluation of the recipe
    }

    [Fact]
    public void Trainable_parameters_come_from_the_print_trainable_parameters_line_and_memory_from_samples()
    {
        var vm = Started();
        vm.Apply(new LogEvent(LogLevel.Info, "recipe", "trainable params: 8,192 || all params: 268,288 || trainable%: 3.0534"));
        vm.SetMemory(new MemorySample(512L * 1024 * 1024, 300L * 1024 * 1024, 20_000_000));
        Assert.Equal(8192, vm.TrainableParameters);
        Assert.Equal(268288, vm.AllParameters);
        Assert.Equal("RSS 512.0 MiB · tensors 300.0 MiB · trainable 8,192 of 268,288 (3.05%)", vm.MemoryText);
    }

    [Fact]
    public void Jobs_of_other_kinds_leave_the_run_alone()
    {
        var vm = Started();
        vm.Apply(Step(3));
        Assert.False(vm.Apply(new JobStartedEvent(2, JobKind.Generation, "generate")));
        Assert.False(vm.Apply(new JobFinishedEvent(2, JobKind.Generation, "generate", JobOutcome.Succeeded, null, TimeSpan.Zero)));
        Assert.Equal(RunState.Running, vm.State);
        Assert.Equal(3, vm.Step);
    }
}
