using System.Text.Json.Nodes;
using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Core.Training;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Peft;

/// <summary>A short LoRA fine-tune of the bundled stories260k lowers its loss on held-out text of the training domain.</summary>
public sealed class LoraFineTuneTests
{
    private static readonly string[] Train =
    [
        "Sparky the dragon lived in a big cave. Sparky liked to fly over the town and wave to the kids.",
        "One day Sparky the dragon found a red ball. Sparky gave the ball to a little girl named Lily.",
        "Sparky the dragon was sad because it was raining. Then the sun came out and Sparky was happy.",
        "Sparky the dragon and Tim played in the park. They ran and laughed until it was time for bed.",
        "Sparky the dragon baked a cake for his mom. The cake was big and sweet and his mom loved it.",
        "Sparky the dragon saw a small bird in the tree. Sparky helped the bird fly back to its nest.",
    ];

    private const string HeldOut = "Sparky the dragon went to the sea with Ben. They built a sand castle and swam in the water.";

    [Fact]
    public void Held_out_loss_falls_after_a_short_lora_fine_tune()
    {
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        peft.AddAdapter("lora", new JsonObject { ["r"] = 8, ["loraAlpha"] = 16, ["targetModules"] = new JsonArray("q_proj", "k_proj", "v_proj", "o_proj") });
        var heldOut = tokenizer.Encode(HeldOut, addBos: true);
        double before = Perplexity.OfTokens(model, heldOut).Loss;

        var examples = Train.Select(t => tokenizer.Encode(t, addBos: true).ToArray()).Select(ids => new TokenizedExample(ids, ids)).ToList();
        var trainer = new Trainer(model, peft.TrainableParameters(), new TrainingOptions
        {
            MaxSteps = 40, BatchSize = 3, LearningRate = 3e-3, LogEvery = 10, PlotLossCurve = false, Seed = 1,
        });
        var result = trainer.Train(new TokenizedDataset(examples, "sparky"));
        model.eval();
        double after = Perplexity.OfTokens(model, heldOut).Loss;

        Assert.Equal(40, result.GlobalStep);
        Assert.True(after < before - 0.1, $"held-out loss {before:F4} → {after:F4}");
        Assert.DoesNotContain(model.named_parameters(), p => p.parameter.requires_grad && !p.name.Contains("lora"));
    }
}
