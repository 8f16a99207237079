using System.Text.Json;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Optimization;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Tests.Training;

public class TrainerBehaviourTests
{
    [Fact]
    public void Training_a_tiny_model_lowers_the_loss_and_reports_progress()
    {
        using var dir = new TempDir();
        using var model = TrainingFixtures.Model();
        var (train, validation) = TrainingFixtures.Packed(24).Split(0.25, seed: 3);
        var bus = new EventBus();
        var steps = new List<TrainingStepEvent>();
        var evals = new List<EvaluationEvent>();
        var finished = new List<TrainingFinishedEvent>();
        using var s1 = bus.Subscribe<TrainingStepEvent>(steps.Add);
        using var s2 = bus.Subscribe<EvaluationEvent>(evals.Add);
        using var s3 = bus.Subscribe<TrainingFinishedEvent>(finished.Add);
        var options = new TrainingOptions
        {
            OutputDirectory = dir.Path, BatchSize = 4, MaxSteps = 40, LearningRate = 3e-3, WarmupRatio = 0.1,
            Schedule = LearningRateScheduleKind.Cosine, LogEvery = 10, EvalEvery = 10, RunId = "tiny",
        };
        var result = new Trainer(model, TrainingFixtures.All(model), options, bus).Train(train, validation);

        Assert.Equal(TrainingStopReason.Completed, result.Reason);
        Assert.Equal(40, result.Losses.Count);
        Assert.True(result.Losses.TakeLast(5).Average() < 0.6 * result.Losses[0], $"loss {result.Losses[0]} → {result.Losses[^1]}");
        Assert.Equal([10, 20, 30, 40], steps.Select(e => e.Step));
        Assert.All(steps, e =>
        {
            Assert.Equal("tiny", e.RunId);
            Assert.True(e.TokensPerSecond > 0 && e.GradNorm > 0 && e.LearningRate > 0 && e.Elapsed > TimeSpan.Zero);
        });
        Assert.Equal(TimeSpan.Zero, steps[^1].Eta);
        Assert.True(steps[0].Eta > TimeSpan.Zero);
        Assert.Equal([10, 20, 30, 40], evals.Select(e => e.Step));
        Assert.True(evals[^1].Metrics["eval_loss"] < evals[0].Metrics["eval_loss"]);
        Assert.Equal(Math.Exp(evals[0].Metrics["eval_loss"]), evals[0].Metrics["eval_perplexity"], 6);
        Assert.Equal(TrainingStopReason.Completed, Assert.Single(finished).Reason);

        var lines = File.ReadAllLines(Path.Combine(dir.Path, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(4, lines.Count(l => l.GetProperty("type").GetString() == "train"));
        Assert.Equal(4, lines.Count(l => l.GetProperty("type").GetString() == "eval"));
        var first = lines.First(l => l.GetProperty("type").GetString() == "train");
        foreach (var key in new[] { "loss", "learning_rate", "grad_norm", "tokens_per_second", "elapsed_s", "eta_s", "epoch" })
            Assert.True(first.TryGetProperty(key, out _), key);
        var png = File.ReadAllBytes(Path.Combine(dir.Path, "loss.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png.Take(4));
    }

    [Fact]
    public void A_step_boundary_handler_can_change_the_learning_rate_and_stop_the_run()
    {
        using var model = TrainingFixtures.Model();
        var bus = new EventBus();
        var steps = new List<TrainingStepEvent>();
        using var _ = bus.Subscribe<TrainingStepEvent>(steps.Add);
        var options = new TrainingOptions { BatchSize = 2, MaxSteps = 20, LearningRate = 1e-3, Schedule = LearningRateScheduleKind.Constant, LogEvery = 1 };
        var trainer = new Trainer(model, TrainingFixtures.All(model), options, bus);
        trainer.StepBoundaryCallbacks.Add(b => { if (b.Step == 2) b.PeakLearningRate = 5e-4; });
        trainer.StepBoundaryCallbacks.Add(b => { if (b.Step == 4) b.Stop("enough"); });
        var result = trainer.Train(TrainingFixtures.Packed(6));
        Assert.Equal(TrainingStopReason.StoppedByHandler, result.Reason);
        Assert.Equal("enough", result.Message);
        Assert.Equal(4, result.GlobalStep);
        Assert.Equal([1e-3, 1e-3, 5e-4, 5e-4], steps.Select(e => e.LearningRate));
    }

    [Fact]
    public void Rebinding_new_parameter_objects_mid_run_keeps_optimizer_state_as_a_hot_reload_needs()
    {
        const string path = "model.layers.1.mlp.down_proj";
        var data = TrainingFixtures.Packed(6);
        var options = new TrainingOptions { BatchSize = 2, MaxSteps = 6, LearningRate = 1e-2, Schedule = LearningRateScheduleKind.Constant };

        using var reference = TrainingFixtures.Model();
        new Trainer(reference, TrainingFixtures.All(reference), options).Train(data);

        using var model = TrainingFixtures.Model();
        var trainer = new Trainer(model, TrainingFixtures.All(model), options);
        trainer.StepBoundaryCallbacks.Add(b =>
        {
            if (b.Step != 3) return;
            // What a reload does: the module is re-created (new Parameter objects) from the live state.
            var surface = new ModelSurface(model);
            var old = (Linear)surface.GetModule(path);
            surface.ReplaceModule(path, nn.Linear(new Parameter(old.weight!.detach().clone()), null));
            b.ReplaceTrainableParameters(TrainingFixtures.All(model));
        });
        trainer.Train(data);
        Assert.True(TrainingFixtures.MaxDifference(TrainingFixtures.Snapshot(reference), TrainingFixtures.Snapshot(model)) < 1e-6);
    }

    private sealed class ScriptedMetric(params double[] values) : IEvaluator
    {
        private int _next;

        public IReadOnlyDictionary<string, double> Evaluate(CausalLanguageModel model, CancellationToken cancellation = default) =>
            new Dictionary<string, double> { ["eval_score"] = values[_next++] };
    }

    [Fact]
    public void Early_stopping_ends_the_run_when_the_metric_stops_improving()
    {
        using var model = TrainingFixtures.Model();
        var (train, validation) = TrainingFixtures.Packed(10).Split(0.2, 1);
        var options = new TrainingOptions
        {
            BatchSize = 2, MaxSteps = 40, EvalEvery = 2,
            EarlyStopping = new EarlyStoppingOptions("eval_score", Patience: 2, GreaterIsBetter: true),
        };
        var trainer = new Trainer(model, TrainingFixtures.All(model), options);
        trainer.Evaluators.Add(new ScriptedMetric(0.5, 0.6, 0.55, 0.58, 0.9, 0.9));
        var seen = new List<(int, double?)>();
        trainer.StepBoundaryCallbacks.Add(b => seen.Add((b.Step, b.Evaluation?["eval_score"])));
        var result = trainer.Train(train, validation);
        Assert.Equal([(1, null), (2, 0.5), (3, null), (4, 0.6)], seen.Take(4));
        Assert.Equal(TrainingStopReason.EarlyStopped, result.Reason);
        Assert.Equal(8, result.GlobalStep);
        Assert.Equal(0.6, result.BestMetric);
        Assert.Equal(4, result.BestStep);
        Assert.Contains("eval_score", result.Message);
        Assert.Equal(4, result.Evaluations.Count);
    }

    private sealed class ConstantTerm(Parameter anchor, double value) : ILossTerm
    {
        public string AdapterName => "reg";
        public int Calls { get; private set; }

        public Tensor? Compute()
        {
            Calls++;
            return (anchor * 0).sum() + value;
        }
    }

    [Fact]
    public void Active_loss_terms_are_added_once_per_optimizer_step()
    {
        var data = TrainingFixtures.Packed(8);
        double FirstLoss(bool withTerm, out int calls)
        {
            using var model = TrainingFixtures.Model();
            var term = new ConstantTerm(model.Model.Norm.parameters().First(), 2.5);
            if (withTerm)
            {
                new ModelSurface(model).AddLossTerm(term);
                model.Hooks.Routing.ActiveAdapters = ["reg"];
            }
            var options = new TrainingOptions { BatchSize = 2, GradientAccumulationSteps = 2, MaxSteps = 1, Shuffle = false };
            var loss = new Trainer(model, TrainingFixtures.All(model), options).Train(data).Losses[0];
            calls = term.Calls;
            return loss;
        }
        double plain = FirstLoss(false, out _);
        double regularised = FirstLoss(true, out int termCalls);
        Assert.Equal(2, termCalls); // once per micro-batch, each weighted 1/k
        Assert.Equal(2.5, regularised - plain, 5);
    }

    [Fact]
    public void Options_are_validated_with_the_offending_name()
    {
        using var model = TrainingFixtures.Model();
        var e = Assert.Throws<ArgumentException>(() =>
            new Trainer(model, TrainingFixtures.All(model), new TrainingOptions { CheckpointEvery = 5 }).Train(TrainingFixtures.Packed(2)));
        Assert.Contains("OutputDirectory", e.Message);
        e = Assert.Throws<ArgumentException>(() =>
            new Trainer(model, TrainingFixtures.All(model), new TrainingOptions { GradientAccumulationSteps = 0 }).Train(TrainingFixtures.Packed(2)));
        Assert.Contains("GradientAccumulationSteps", e.Message);
        Assert.Throws<ArgumentException>(() => new Trainer(model, [], new TrainingOptions()));
    }

    [Fact]
    public void Parameters_outside_the_trainable_list_stay_frozen_and_requires_grad_is_restored()
    {
        using var model = TrainingFixtures.Model();
        var before = TrainingFixtures.Snapshot(model);
        var trainable = TrainingFixtures.All(model).Where(p => p.Name.StartsWith("model.layers.0.")).ToList();
        new Trainer(model, trainable, new TrainingOptions { BatchSize = 2, MaxSteps = 3, LearningRate = 1e-2 }).Train(TrainingFixtures.Packed(4));
        var after = TrainingFixtures.Snapshot(model);
        foreach (var name in before.Keys)
        {
            float change = (before[name] - after[name]).abs().max().item<float>();
            if (name.StartsWith("model.layers.0.") && !name.Contains("norm")) Assert.True(change > 0, name);
            if (!name.StartsWith("model.layers.0.")) Assert.Equal(0f, change);
        }
        Assert.All(model.named_parameters(), p => Assert.True(p.parameter.requires_grad));
        Assert.False(model.training);
    }
}
