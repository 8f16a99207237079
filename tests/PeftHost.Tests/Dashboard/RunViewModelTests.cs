using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Recipes;
using PeftHost.Core.Recipes.Api;
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
        Assert.Equal("training · step 20/40 · epoch 2.00 · ETA 0:00:08", vm.ProgressText);
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
        var table = vm.FormatResults().Split('\n');
        Assert.Equal(5, table.Length);
        Assert.Equal("evaluations", table[0]);
        Assert.Equal("step  eval_loss  eval_perplexity", table[1]);
        Assert.Equal("  10     2.4000          11.0232", table[3]);
        Assert.Equal("  20     2.2000           9.0250", table[4]);
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

    private static TrainingPhaseEvent Phase(TrainingPhase phase, int step, int total = 40, int done = 0, int all = 0, double? etaSeconds = null) =>
        new("run-1", phase, step, total, step / 10.0, TimeSpan.FromSeconds(step), etaSeconds is double e ? TimeSpan.FromSeconds(e) : TimeSpan.FromSeconds(total - step), done, all);

    [Fact]
    public void Every_step_moves_the_progress_between_logged_steps_and_the_phase_is_named()
    {
        var vm = Started();
        vm.Apply(Step(10, loss: 2.5));
        vm.Apply(Phase(TrainingPhase.Training, 10));
        // logEvery 10: steps 11 and 12 publish no TrainingStepEvent, only where the run stands.
        vm.Apply(Phase(TrainingPhase.Training, 11, etaSeconds: 29));
        Assert.Equal("training · step 11/40 · epoch 1.10 · ETA 0:00:29", vm.ProgressText);
        vm.Apply(Phase(TrainingPhase.Training, 12, etaSeconds: 28));
        Assert.Equal(12, vm.Step);
        Assert.Equal(0.3, vm.Fraction);
        Assert.Equal("training · step 12/40 · epoch 1.20 · ETA 0:00:28", vm.ProgressText);
        Assert.Equal([(10.0, 2.5)], vm.TrainLossSeries); // the loss moves only with logged steps
    }

    [Fact]
    public void An_evaluation_shows_its_batches_instead_of_a_frozen_eta_and_saving_is_named()
    {
        var vm = Started();
        vm.Apply(Phase(TrainingPhase.Training, 25));
        vm.Apply(Phase(TrainingPhase.Evaluating, 25));
        Assert.Equal("evaluating… · step 25/40 · epoch 2.50", vm.ProgressText);
        vm.Apply(Phase(TrainingPhase.Evaluating, 25, done: 3, all: 10));
        Assert.Equal("evaluating 3/10 · step 25/40 · epoch 2.50", vm.ProgressText);
        Assert.Equal((3, 10), vm.EvaluationProgress);
        vm.Apply(Evaluation(25, 2.1));
        Assert.Equal(TrainingPhase.Training, vm.Phase);
        vm.Apply(Phase(TrainingPhase.Saving, 25));
        Assert.Equal("saving a checkpoint · step 25/40 · epoch 2.50", vm.ProgressText);
        vm.Apply(new CheckpointEvent("run-1", 25, "/runs/x/checkpoint-25", []));
        Assert.Equal(TrainingPhase.Training, vm.Phase);
    }

    [Fact]
    public void The_header_loss_is_the_charts_last_point_even_when_the_run_ends_on_a_different_single_step_loss()
    {
        var vm = Started();
        vm.Apply(Step(20, total: 25, loss: 2.25)); // the mean of steps 1..20 (logEvery 20)
        vm.Apply(Phase(TrainingPhase.Training, 25, total: 25));
        vm.Apply(new TrainingFinishedEvent("run-1", 25, TrainingStopReason.Completed, null, 1.5, TimeSpan.FromSeconds(9), null));
        Assert.Equal(2.25, vm.Loss);
        Assert.Equal(vm.TrainLossSeries[^1].Y, vm.Loss);
        Assert.StartsWith("loss 2.2500 ·", vm.MetricsText);
    }

    [Fact]
    public void The_recipes_own_tables_follow_the_evaluations_in_the_results()
    {
        var vm = Started("quickstart.js");
        vm.Apply(Evaluation(10, 2.4));
        vm.Apply(new RecipeTableEvent("spam vs ham on 600 held-out e-mails", ["model", "accuracy", "f1"],
        [
            [new TableFormatter.Cell("base stories260k", false), new TableFormatter.Cell("0.5", true), new TableFormatter.Cell("0.6667", true)],
            [new TableFormatter.Cell("LoRA r=8, 150 steps", false), new TableFormatter.Cell("0.955", true), new TableFormatter.Cell("0.9548", true)],
        ]));
        Assert.Single(vm.RecipeTables);
        var lines = vm.FormatResults().Split('\n');
        int title = Array.IndexOf(lines, "spam vs ham on 600 held-out e-mails");
        Assert.True(title > 0, string.Join("\n", lines));
        Assert.Equal("model                accuracy  f1", lines[title + 1]);
        Assert.Equal("LoRA r=8, 150 steps     0.955  0.9548", lines[title + 4]);

        vm.Apply(new JobStartedEvent(2, JobKind.Recipe, "tiny-train.js"));
        Assert.Empty(vm.RecipeTables);
        Assert.Equal("no evaluations yet", vm.FormatResults());
    }
}
