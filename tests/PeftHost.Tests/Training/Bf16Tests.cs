using PeftHost.Core.Checkpoints;
using PeftHost.Core.Models;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Precision;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Training;

public class Bf16Tests
{
    [Fact]
    public void Bf16_compute_trains_with_float32_masters_or_refuses_clearly()
    {
        var config = TinyModels.Config(j => j["vocab_size"] = TrainingFixtures.Tokenizer.VocabSize);
        using var model = ModelLoader.CreateRandom(config, ScalarType.BFloat16, CPU, seed: 2);
        using var dir = new TempDir();
        var options = new TrainingOptions
        {
            OutputDirectory = dir.Path, Precision = TrainingPrecision.BFloat16, BatchSize = 4, MaxSteps = 30,
            LearningRate = 3e-3, CheckpointEvery = 30,
        };
        var trainer = new Trainer(model, TrainingFixtures.All(model), options);
        if (!Bf16Support.IsAvailable(CPU, out string reason))
        {
            var refused = Assert.Throws<NotSupportedException>(() => trainer.Train(TrainingFixtures.Packed(8)));
            Assert.Contains(reason, refused.Message);
            Assert.Contains("float32", refused.Message);
            return;
        }
        var result = trainer.Train(TrainingFixtures.Packed(8));
        Assert.True(result.Losses.TakeLast(5).Average() < 0.7 * result.Losses[0], $"{result.Losses[0]} → {result.Losses[^1]}");
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        using var saved = SafeTensorsFile.Open(Path.Combine(result.LastCheckpoint!, "trainable.safetensors"));
        Assert.All(saved.Entries.Values, e => Assert.Equal("F32", e.DtypeName));
        // The bf16 parameters are the rounded masters.
        var name = "model.layers.0.mlp.up_proj.weight";
        var master = saved.Read(name);
        var parameter = model.named_parameters().Single(p => p.name == name).parameter;
        Assert.Equal(0f, (master.to(ScalarType.BFloat16) - parameter).abs().max().to(ScalarType.Float32).item<float>());
        Assert.True((master - parameter.to(ScalarType.Float32)).abs().max().item<float>() > 0);
    }

    [Fact]
    public void Bf16_compute_on_a_float32_model_is_refused_with_a_clear_message()
    {
        if (!Bf16Support.IsAvailable(CPU, out _)) return; // the hardware refusal is covered above
        using var model = TrainingFixtures.Model();
        var trainer = new Trainer(model, TrainingFixtures.All(model), new TrainingOptions { Precision = TrainingPrecision.BFloat16 });
        var e = Assert.Throws<InvalidOperationException>(() => trainer.Train(TrainingFixtures.Packed(2)));
        Assert.Contains("bfloat16", e.Message);
    }
}
