using PeftHost.Core.Data;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Checkpointing;
using PeftHost.Core.Checkpoints;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Training;

public class NanGuardTests
{
    [Fact]
    public void A_poisoned_batch_stops_training_naming_the_step_and_parameter_and_keeps_the_last_good_checkpoint()
    {
        const int poison = 250; // a byte id the clean examples never use
        var clean = TrainingFixtures.Packed(5).ToList();
        var poisoned = (int[])clean[0].InputIds.Clone();
        poisoned[5] = poison;
        var examples = clean.Take(3).Append(TokenizedExample.FullySupervised(poisoned)).Concat(clean.Skip(3)).ToArray();
        var data = new TokenizedDataset(examples, "poisoned");

        using var dir = new TempDir();
        using var model = TrainingFixtures.Model();
        using (no_grad()) model.Model.EmbeddingWeight[poison].fill_(float.NaN);
        // The embedding is frozen (its NaN row is not a trainable value); everything else trains.
        var trainable = TrainingFixtures.All(model).Where(p => !p.Name.Contains("embed_tokens")).ToList();
        var options = new TrainingOptions { OutputDirectory = dir.Path, BatchSize = 1, Shuffle = false, MaxSteps = 5, CheckpointEvery = 1, SaveTotalLimit = 2, LearningRate = 1e-3 };

        var e = Assert.Throws<TrainingDivergedException>(() => new Trainer(model, trainable, options).Train(data));
        Assert.Equal(3, e.Step);
        Assert.Equal(trainable[0].Name, e.ParameterName);
        Assert.Equal("the gradient", e.What);
        Assert.Contains("step 3", e.Message);
        Assert.Contains($"'{trainable[0].Name}'", e.Message);

        var store = new CheckpointStore(Path.Combine(dir.Path, "checkpoints"));
        Assert.Equal([2, 3], store.List().Select(c => c.Step));
        Assert.Equal(store.Latest(), e.LastCheckpoint);
        // The failed step changed nothing: the model still holds the last good checkpoint's values.
        using var saved = SafeTensorsFile.Open(Path.Combine(store.Latest()!, "trainable.safetensors"));
        foreach (var (name, p) in trainable)
            Assert.Equal(0f, (saved.Read(name) - p.detach()).abs().max().item<float>());
        Assert.Contains("\"reason\":\"Diverged\"", File.ReadAllText(Path.Combine(dir.Path, "metrics.jsonl")));
    }
}
