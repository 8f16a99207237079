using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Checkpointing;
using PeftHost.Core.Checkpoints;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Training;

public class CheckpointTests
{
    [Fact]
    public void Only_the_last_k_checkpoints_are_kept_and_each_is_complete()
    {
        using var dir = new TempDir();
        using var model = TrainingFixtures.Model();
        var bus = new EventBus();
        var written = new List<CheckpointEvent>();
        using var _ = bus.Subscribe<CheckpointEvent>(written.Add);
        var options = new TrainingOptions { OutputDirectory = dir.Path, BatchSize = 2, MaxSteps = 10, CheckpointEvery = 2, SaveTotalLimit = 2 };
        var trainable = TrainingFixtures.All(model).Where(p => p.Name.Contains("layers.1.")).ToList();
        var result = new Trainer(model, trainable, options, bus).Train(TrainingFixtures.Packed(8));

        var root = Path.Combine(dir.Path, "checkpoints");
        Assert.Equal(new[] { "checkpoint-10", "checkpoint-8" }, Directory.GetDirectories(root).Select(d => Path.GetFileName(d)).Order().ToArray());
        Assert.Empty(Directory.GetDirectories(root, ".*")); // no staging leftovers
        Assert.Equal([2, 4, 6, 8, 10], written.Select(e => e.Step));
        Assert.Contains(written, e => e.Removed.Any(r => r.EndsWith("checkpoint-2")));
        Assert.Equal(Path.Combine(root, "checkpoint-10"), result.LastCheckpoint);

        var last = Path.Combine(root, "checkpoint-10");
        using (var t = SafeTensorsFile.Open(Path.Combine(last, "trainable.safetensors")))
            Assert.Equal(trainable.Select(p => p.Name).Order(), t.Entries.Keys.Order());
        using (var o = SafeTensorsFile.Open(Path.Combine(last, "optimizer.safetensors")))
        {
            Assert.Equal(trainable.Count * 2, o.Entries.Count);
            Assert.Contains("\"model.layers.1.mlp.up_proj.weight\":10", o.Metadata["steps"]);
        }
        var state = TrainerState.Load(last);
        Assert.Equal(10, state.GlobalStep);
        Assert.Equal(10, state.Losses.Count);
        Assert.NotEmpty(state.TorchCpuRngState);
        Assert.Equal((state.Epoch, state.BatchInEpoch), (2, 2)); // 4 batches an epoch: 10 batches = 2 epochs + 2
    }

    [Fact]
    public void Checkpoints_can_be_written_at_each_epoch_end()
    {
        using var dir = new TempDir();
        using var model = TrainingFixtures.Model();
        var options = new TrainingOptions { OutputDirectory = dir.Path, BatchSize = 2, GradientAccumulationSteps = 2, Epochs = 3, CheckpointEachEpoch = true, SaveTotalLimit = 5 };
        // 5 examples: 3 micro-batches an epoch, so 2 optimizer steps (the second with one micro-batch).
        var result = new Trainer(model, TrainingFixtures.All(model), options).Train(TrainingFixtures.Packed(5));
        Assert.Equal(6, result.GlobalStep);
        var steps = new CheckpointStore(Path.Combine(dir.Path, "checkpoints")).List().Select(c => c.Step);
        Assert.Equal([2, 4, 6], steps);
        var state = TrainerState.Load(result.LastCheckpoint!);
        Assert.Equal((3, 0), (state.Epoch, state.BatchInEpoch));
    }

    [Fact]
    public void Cancellation_stops_at_a_step_boundary_and_writes_a_checkpoint()
    {
        using var dir = new TempDir();
        using var model = TrainingFixtures.Model();
        using var cts = new CancellationTokenSource();
        var trainer = new Trainer(model, TrainingFixtures.All(model), new TrainingOptions { OutputDirectory = dir.Path, BatchSize = 2, MaxSteps = 50 });
        trainer.StepBoundaryCallbacks.Add(b => { if (b.Step == 3) cts.Cancel(); });
        var result = trainer.Train(TrainingFixtures.Packed(6), cancellation: cts.Token);
        Assert.Equal(TrainingStopReason.Cancelled, result.Reason);
        Assert.Equal(3, result.GlobalStep);
        Assert.EndsWith("checkpoint-3", result.LastCheckpoint);
        Assert.Equal(3, TrainerState.Load(result.LastCheckpoint!).GlobalStep);
    }
}
