using System.Text.Json.Nodes;
using PeftHost.Core.Data;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Checkpointing;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using PeftHost.Tests.Reliability.Fuzzing;
using PeftHost.Tests.Support;
using PeftHost.Tests.Training;
using static TorchSharp.torch;

namespace PeftHost.Tests.Reliability.Numerics;

/// <summary>
/// NaN and infinity in weights, adapters, inputs and gradients are caught and reported where they
/// first appear: at load time naming the tensor and the first bad index, at injection naming the
/// plugin's parameter, and in training naming the step, the parameter and, when a weight of the
/// model is the source, that weight.
/// </summary>
public sealed class NonFiniteTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelConfig TinyConfig => ModelConfig.FromJson(JsonNode.Parse(Seeds.TinyConfigJson)!.AsObject());

    [Theory]
    [InlineData(float.NaN, "model.layers.1.mlp.down_proj.weight", 3L, 5L)]
    [InlineData(float.PositiveInfinity, "model.embed_tokens.weight", 60L, 31L)]
    [InlineData(float.NegativeInfinity, "model.norm.weight", 7L, null)]
    public void A_model_file_with_a_non_finite_weight_is_refused_naming_the_tensor_and_index(float value, string name, long row, long? column)
    {
        string folder = _dir["model"];
        using (var model = ModelLoader.CreateRandom(TinyConfig, seed: 1))
        {
            var p = model.named_parameters().Single(x => x.name == name).parameter;
            using (no_grad())
            {
                if (column is long c) p[row, c] = tensor(value);
                else p[row] = tensor(value);
            }
            ModelLoader.Save(model, folder);
        }
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        string index = column is long col ? $"[{row}, {col}]" : $"[{row}]";
        Assert.Equal($"{folder}: the checkpoint holds NaN or infinite weights: tensor '{name}' holds 1 NaN or infinite value, the first at {index}", e.Message);
    }

    [Fact]
    public void An_adapter_file_with_a_non_finite_value_is_refused_naming_the_tensor()
    {
        string folder = _dir["adapter"];
        using (var model = ModelLoader.CreateRandom(TinyConfig, seed: 1))
        {
            var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
            var entry = peft.AddAdapter("lora", new JsonObject { ["r"] = 2, ["targetModules"] = new JsonArray("v_proj") });
            peft.SaveAdapter(folder);
        }
        // SaveAdapter refuses a non-finite adapter, so the damage is done to the file, as a disk or a download would.
        var state = AdapterFiles.ReadState(folder);
        state["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"][0, 1] = tensor(float.NaN);
        AdapterFiles.Write(folder, AdapterFiles.ReadConfig(folder), state);
        using var fresh = ModelLoader.CreateRandom(TinyConfig, seed: 1);
        var target = new PeftModel(fresh, new StaticMethodCatalog(new LoraMethod()));
        var e = Assert.Throws<ModelFormatException>(() => target.LoadAdapter(folder));
        Assert.Equal($"{Path.Combine(folder, AdapterFiles.WeightsFileName)}: tensor 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight' holds 1 NaN or infinite value, the first at [0, 1]; the adapter is damaged", e.Message);
        Assert.Empty(target.Adapters);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void A_non_finite_embedding_row_is_named_as_the_origin_when_training_diverges(float value)
    {
        // Token 250 appears only in the fourth example; its (frozen) embedding row is poisoned.
        const int poison = 250;
        var clean = TrainingFixtures.Packed(5).ToList();
        var poisoned = (int[])clean[0].InputIds.Clone();
        poisoned[5] = poison;
        var data = new TokenizedDataset(clean.Take(3).Append(TokenizedExample.FullySupervised(poisoned)).Concat(clean.Skip(3)).ToArray(), "poisoned");
        using var model = TrainingFixtures.Model();
        using (no_grad()) model.Model.EmbeddingWeight[poison].fill_(value);
        var trainable = TrainingFixtures.All(model).Where(p => !p.Name.Contains("embed_tokens")).ToList();

        var e = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(model, trainable, new TrainingOptions { BatchSize = 1, Shuffle = false, MaxSteps = 5, LearningRate = 1e-3 }).Train(data));
        Assert.Equal(3, e.Step);
        Assert.Equal($"the model's frozen parameter 'model.embed_tokens.weight', which holds {model.Config.HiddenSize} NaN or infinite values, the first at [{poison}, 0]", e.Origin);
        Assert.Contains($"training diverged at step 3: the gradient of parameter '{trainable[0].Name}' is NaN or infinite; it comes from the model's frozen parameter 'model.embed_tokens.weight'", e.Message);
        ReliabilityLog.Record("numerics", $"{value} in a frozen embedding row: \"{e.Message}\"");
    }

    [Fact]
    public void A_non_finite_gradient_is_named_by_its_parameter_and_the_last_good_checkpoint_is_kept()
    {
        var data = TrainingFixtures.Packed(6);
        using var model = TrainingFixtures.Model();
        var trainable = TrainingFixtures.All(model);
        string victim = trainable[5].Name;
        var poisoner = new GradientPoisoner(model, victim, atStep: 2);
        new ModelSurface(model).AddTrainingHooks(poisoner);
        model.Hooks.Routing.ActiveAdapters = [poisoner.AdapterName];
        var options = new TrainingOptions { OutputDirectory = _dir["run"], BatchSize = 2, MaxSteps = 4, CheckpointEvery = 1, LearningRate = 1e-3, PlotLossCurve = false };

        var e = Assert.Throws<TrainingDivergedException>(() => new Trainer(model, trainable, options).Train(data));
        Assert.Equal((2, victim, "the gradient", (string?)null), (e.Step, e.ParameterName, e.What, e.Origin)); // no weight is NaN: the gradient itself is the origin
        var store = new CheckpointStore(Path.Combine(_dir["run"], "checkpoints"));
        Assert.Equal(store.PathFor(2), e.LastCheckpoint);
        Assert.Equal([1, 2], store.List().Select(c => c.Step));
        // The failed step changed nothing.
        Assert.All(trainable, p => Assert.True(p.Parameter.isfinite().all().item<bool>(), p.Name));
    }

    /// <summary>Writes a NaN into one parameter's gradient after backward at one step.</summary>
    private sealed class GradientPoisoner(CausalLanguageModel model, string parameter, int atStep) : ITrainingHooks
    {
        public string AdapterName => "poisoner";

        public void AfterBackward(TrainingStepInfo step)
        {
            if (step.GlobalStep != atStep) return;
            var grad = model.named_parameters().Single(p => p.name == parameter).parameter.grad!;
            using var _ = no_grad();
            grad.view(-1)[0] = tensor(float.NaN);
        }

        public void BeforeOptimizerStep(TrainingStepInfo step) { }

        public void AfterOptimizerStep(TrainingStepInfo step) { }
    }
}
