using PeftHost.Core.Training;
using PeftHost.Core.Training.Optimization;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Training;

[Collection(TorchRngCollection.Name)]
public class ResumeTests
{
    private const string DropoutAt = "model.layers.0.self_attn.q_proj";

    private static TrainingOptions Options(string output) => new()
    {
        OutputDirectory = output,
        BatchSize = 2,
        GradientAccumulationSteps = 2,
        MaxSteps = 12,
        LearningRate = 5e-3,
        WeightDecay = 0.01,
        Schedule = LearningRateScheduleKind.Cosine,
        WarmupSteps = 3,
        CheckpointEvery = 4,
        SaveTotalLimit = 10,
        LogEvery = 1,
        Seed = 123,
    };

    [Fact]
    public void Resuming_a_mid_run_checkpoint_reproduces_the_uninterrupted_losses()
    {
        var data = TrainingFixtures.Packed(10);
        using var dirA = new TempDir();
        using var dirB = new TempDir();

        TorchSharp.torch.random.manual_seed(1);
        using var modelA = TrainingFixtures.Model(seed: 5);
        TrainingFixtures.AddDropout(modelA, DropoutAt, 0.2);
        var full = new Trainer(modelA, TrainingFixtures.All(modelA), Options(dirA.Path)).Train(data);
        Assert.Equal(12, full.Losses.Count);

        // The interrupted run: a handler stops it after step 6 (a checkpoint is written there).
        TorchSharp.torch.random.manual_seed(1);
        using var modelB = TrainingFixtures.Model(seed: 5);
        TrainingFixtures.AddDropout(modelB, DropoutAt, 0.2);
        var first = new Trainer(modelB, TrainingFixtures.All(modelB), Options(dirB.Path));
        first.StepBoundaryCallbacks.Add(b => { if (b.Step == 6) b.Stop("interrupted by the test"); });
        var partial = first.Train(data);
        Assert.Equal(TrainingStopReason.StoppedByHandler, partial.Reason);
        Assert.EndsWith("checkpoint-6", partial.LastCheckpoint);

        // A fresh process: a differently initialised model and a scrambled generator, resumed from the checkpoint.
        TorchSharp.torch.random.manual_seed(999);
        using var modelC = TrainingFixtures.Model(seed: 77);
        TrainingFixtures.AddDropout(modelC, DropoutAt, 0.2);
        var resumed = new Trainer(modelC, TrainingFixtures.All(modelC), Options(dirB.Path) with { ResumeFrom = "latest" }).Train(data);

        Assert.Equal(TrainingStopReason.Completed, resumed.Reason);
        Assert.Equal(12, resumed.Losses.Count);
        for (int step = 0; step < 12; step++)
            Assert.True(Math.Abs(full.Losses[step] - resumed.Losses[step]) < 1e-6, $"step {step}: {full.Losses[step]} vs {resumed.Losses[step]}");
        Assert.True(TrainingFixtures.MaxDifference(TrainingFixtures.Snapshot(modelA), TrainingFixtures.Snapshot(modelC)) < 1e-6);
        // The uninterrupted run's losses really differ between steps (dropout and data are live).
        Assert.True(full.Losses.Distinct().Count() == 12);

        var metricsSteps = File.ReadAllLines(Path.Combine(dirB.Path, "metrics.jsonl"))
            .Where(l => l.Contains("\"type\":\"train\"")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()).ToArray();
        Assert.Equal(Enumerable.Range(1, 12), metricsSteps);
    }

    [Fact]
    public void Resume_refuses_a_run_with_different_data_or_batching()
    {
        var data = TrainingFixtures.Packed(6);
        using var dir = new TempDir();
        using var model = TrainingFixtures.Model();
        var options = Options(dir.Path) with { MaxSteps = 4, CheckpointEvery = 2 };
        new Trainer(model, TrainingFixtures.All(model), options).Train(data);
        var e = Assert.Throws<InvalidOperationException>(() =>
            new Trainer(model, TrainingFixtures.All(model), options with { ResumeFrom = "latest", BatchSize = 3 }).Train(data));
        Assert.Contains("batch size 2 → 3", e.Message);
    }
}
