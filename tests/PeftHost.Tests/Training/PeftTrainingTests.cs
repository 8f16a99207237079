using System.Text.Json.Nodes;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Optimization;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Training;

/// <summary>The trainer on a PEFT model: LoRA (with dropout) from the bundled plugin.</summary>
[Collection(TorchRngCollection.Name)]
public class PeftTrainingTests
{
    private static PeftModel Lora(CausalLanguageModel model)
    {
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        peft.AddAdapter("lora", new JsonObject { ["r"] = 4, ["loraAlpha"] = 8, ["loraDropout"] = 0.1, ["targetModules"] = "all-linear" });
        return peft;
    }

    private static TrainingOptions Options(string dir) => new()
    {
        OutputDirectory = dir, BatchSize = 2, MaxSteps = 8, LearningRate = 1e-2, Schedule = LearningRateScheduleKind.Linear,
        WarmupSteps = 2, CheckpointEvery = 4, GradientCheckpointing = true, Seed = 5,
    };

    [Fact]
    public void Lora_adapters_train_the_base_stays_frozen_and_a_resumed_run_matches_with_lora_dropout()
    {
        var data = TrainingFixtures.Packed(8);
        using var dirA = new TempDir();
        using var dirB = new TempDir();

        TorchSharp.torch.random.manual_seed(3);
        using var modelA = TrainingFixtures.Model(seed: 4);
        var peftA = Lora(modelA);
        var baseBefore = TrainingFixtures.Snapshot(modelA);
        var trainable = peftA.TrainableParameters();
        Assert.All(trainable, p => Assert.Contains("lora_", p.Name));
        var full = new Trainer(modelA, trainable, Options(dirA.Path)).Train(data);
        Assert.True(full.Losses[^1] < full.Losses[0]);
        var baseAfter = TrainingFixtures.Snapshot(modelA);
        foreach (var name in baseBefore.Keys.Where(k => !k.Contains("lora_")))
            Assert.Equal(0f, (baseBefore[name] - baseAfter[name]).abs().max().item<float>());

        TorchSharp.torch.random.manual_seed(3); // LoRA's A matrices are drawn from the default generator
        using var modelB = TrainingFixtures.Model(seed: 4);
        var peftB = Lora(modelB);
        var first = new Trainer(modelB, peftB.TrainableParameters(), Options(dirB.Path));
        first.StepBoundaryCallbacks.Add(b => { if (b.Step == 4) b.Stop("pause"); });
        first.Train(data);
        TorchSharp.torch.random.manual_seed(77);
        using var modelC = TrainingFixtures.Model(seed: 4);
        var peftC = Lora(modelC); // fresh random lora_A: the checkpoint must overwrite it
        var resumed = new Trainer(modelC, peftC.TrainableParameters(), Options(dirB.Path) with { ResumeFrom = "latest" }).Train(data);
        for (int step = 0; step < 8; step++)
            Assert.True(Math.Abs(full.Losses[step] - resumed.Losses[step]) < 1e-6, $"step {step}: {full.Losses[step]} vs {resumed.Losses[step]}");

        // Retention against the base model, through the PEFT model's disable scope.
        var reference = TrainingFixtures.Tokenizer.Encode(string.Concat(Enumerable.Repeat("Call me Ishmael. ", 12)), addBos: false);
        var retention = Retention.Evaluate(modelA, reference, peftA.DisableAdapter, window: 64);
        Assert.True(retention.MeanKl > 0);
    }
}
