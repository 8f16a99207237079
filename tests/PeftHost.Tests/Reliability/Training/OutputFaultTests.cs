using PeftHost.Core.Checkpoints;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Checkpointing;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;
using PeftHost.Tests.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace PeftHost.Tests.Reliability.Training;

/// <summary>
/// The output folder fails under a running training: the disk fills up or turns read-only just
/// before a checkpoint. The run must stop with an error that says what happened and where, the
/// previous checkpoint must be intact (loadable, holding that step's weights), nothing half-written
/// may be left, and once the disk is back a resume must finish exactly like an uninterrupted run.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class OutputFaultTests(ITestOutputHelper output)
{
    private const int Steps = 6;

    private static TrainingOptions Options(string dir) => new()
    {
        OutputDirectory = dir, BatchSize = 2, MaxSteps = Steps, LearningRate = 5e-3, WarmupSteps = 1,
        CheckpointEvery = 1, SaveTotalLimit = 2, LogEvery = 1, Seed = 3, PlotLossCurve = false,
    };

    [Theory]
    [InlineData("disk full", "No space left on device")]
    [InlineData("read-only", "Read-only file system")]
    public void A_checkpoint_that_cannot_be_written_stops_the_run_clearly_and_keeps_the_previous_one(string fault, string reason)
    {
        using var disk = TmpfsMount.TryCreate(4 << 20);
        if (disk is null)
        {
            output.WriteLine("not run: mounting a tmpfs needs root");
            return;
        }
        var data = TrainingFixtures.Packed(8);
        using var model = TrainingFixtures.Model(seed: 5);
        var trainer = new Trainer(model, TrainingFixtures.All(model), Options(disk.Path));
        Dictionary<string, Tensor>? atStep2 = null;
        IDisposable? readOnly = null;
        trainer.StepBoundaryCallbacks.Add(b =>
        {
            if (b.Step == 2) atStep2 = TrainingFixtures.Snapshot(model);
            if (b.Step != 3) return;
            // metrics.jsonl is open for appending, so the disk cannot be remounted read-only under
            // it: the checkpoints folder gets a read-only bind mount of itself instead.
            if (fault == "disk full") disk.Fill();
            else readOnly = disk.MountReadOnlyOver(Path.Combine(disk.Path, "checkpoints"));
        });

        var e = Assert.ThrowsAny<IOException>(() => trainer.Train(data));
        var store = new CheckpointStore(Path.Combine(disk.Path, "checkpoints"));
        Assert.Contains(reason, e.Message);
        Assert.Contains($"could not write the checkpoint of step 3 to {store.PathFor(3)}", e.Message);
        Assert.Contains($"the previous checkpoint {store.PathFor(2)} is intact", e.Message);

        // The previous checkpoint is complete and holds step 2's weights.
        if (fault == "read-only") readOnly!.Dispose();
        else disk.Unfill();
        Assert.Equal([1, 2], store.List().Select(c => c.Step));
        Assert.Equal(2, TrainerState.Load(store.PathFor(2)).GlobalStep);
        using (var saved = SafeTensorsFile.Open(Path.Combine(store.PathFor(2), TrainingCheckpoint.TrainableFile)))
            foreach (var (name, value) in atStep2!)
                Assert.True(TensorAssert.Identical(value, saved.Read(name)), $"{name} differs from step 2's value");
        Assert.Empty(disk.Leftovers());

        // Disk back: resume and finish exactly as an uninterrupted run does.
        using var resumedModel = TrainingFixtures.Model(seed: 77);
        var resumed = new Trainer(resumedModel, TrainingFixtures.All(resumedModel), Options(disk.Path) with { ResumeFrom = "latest" }).Train(data);
        using var dir = new TempDir();
        using var referenceModel = TrainingFixtures.Model(seed: 5);
        var reference = new Trainer(referenceModel, TrainingFixtures.All(referenceModel), Options(dir.Path)).Train(data);
        Assert.Equal(Steps, resumed.Losses.Count);
        double worstLoss = Enumerable.Range(0, Steps).Max(i => Math.Abs(reference.Losses[i] - resumed.Losses[i]));
        double worstWeight = TrainingFixtures.MaxDifference(TrainingFixtures.Snapshot(referenceModel), TrainingFixtures.Snapshot(resumedModel));
        Assert.True(worstLoss <= 1e-6 && worstWeight <= 1e-6, $"loss {worstLoss:E2}, weights {worstWeight:E2}");
        ReliabilityLog.Record("output faults", $"{fault} at step 3's checkpoint: IOException \"{e.Message}\"; checkpoint-2 intact, no leftovers; resumed run equal within {Math.Max(worstLoss, worstWeight):E1}");
    }

    [Fact]
    public void An_output_folder_that_cannot_be_created_fails_before_the_first_step()
    {
        using var dir = new TempDir();
        string file = dir["not-a-folder"];
        File.WriteAllText(file, "");
        var data = TrainingFixtures.Packed(4);
        using var model = TrainingFixtures.Model();
        int steps = 0;
        var trainer = new Trainer(model, TrainingFixtures.All(model), Options(Path.Combine(file, "run")));
        trainer.StepBoundaryCallbacks.Add(_ => steps++);
        var e = Assert.ThrowsAny<IOException>(() => trainer.Train(data));
        Assert.Contains(Path.Combine(file, "run"), e.Message);
        Assert.Equal(0, steps);
    }

    [Fact]
    public void A_read_only_output_folder_fails_before_the_first_step()
    {
        using var disk = TmpfsMount.TryCreate(1 << 20);
        if (disk is null)
        {
            output.WriteLine("not run: mounting a tmpfs needs root");
            return;
        }
        disk.SetReadOnly(true);
        var data = TrainingFixtures.Packed(4);
        using var model = TrainingFixtures.Model();
        int steps = 0;
        var trainer = new Trainer(model, TrainingFixtures.All(model), Options(disk.Path));
        trainer.StepBoundaryCallbacks.Add(_ => steps++);
        var e = Assert.ThrowsAny<IOException>(() => trainer.Train(data));
        Assert.Contains("Read-only file system", e.Message);
        Assert.Contains(disk.Path, e.Message);
        Assert.Equal(0, steps);
    }
}
