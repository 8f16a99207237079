using PeftHost.Cli.Commands;
using PeftHost.Core.Checkpoints;
using TorchSharp;
using PeftHost.Tests.Training;

namespace PeftHost.Tests.Recipes;

/// <summary><c>train(model, data, { optimizer })</c>: AdamW with float32 or 8-bit state, driven through recipes.</summary>
[Collection(TorchRngCollection.Name)] // runs compared bit for bit: no parallel test may draw from torch's global generator meanwhile
public sealed class OptimizerOptionTests : IDisposable
{
    // r = 64 on q_proj and v_proj: q's lora_A, lora_B and v's lora_A have 4096 elements and get
    // 8-bit state; v's lora_B (32 × 64) stays below bitsandbytes' 4096 threshold and keeps float32 state.
    private const string Setup = """
        import { setSeed, loadModel, getPeftModel, loadDataset, train, log } from "peft";
        const texts = [
          "Sparky the dragon lived in a big cave and liked to fly.",
          "Sparky the dragon found a red ball and gave it to Lily.",
          "Sparky the dragon baked a sweet cake for his mom.",
          "Sparky the dragon helped a bird fly back to its nest.",
        ];
        const data = loadDataset(texts, { format: "text", maxLength: 24 });
        const fresh = () => { setSeed(7); return getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 64, loraAlpha: 16, loraDropout: 0, targetModules: ["q_proj", "v_proj"] }); };
        const options = { batchSize: 2, learningRate: 3e-3, schedule: "constant", logEvery: 100, plotLossCurve: false };
        """;

    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static int LineOf(string body, string text) =>
        (Setup + "\n" + body).Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains(text, StringComparison.Ordinal)).i + 1;

    [Fact]
    public void Eight_bit_AdamW_trains_holds_less_state_and_resumes_exactly()
    {
        var run = _h.RunOk(Setup + "\n" + """
            const whole = train(fresh(), data, { ...options, maxSteps: 12, optimizer: "adamw_8bit", outputDir: "whole" });
            const float32 = train(fresh(), data, { ...options, maxSteps: 12, outputDir: "float32" });
            train(fresh(), data, { ...options, maxSteps: 6, optimizer: "adamw_8bit", checkpointEvery: 6, outputDir: "resumed" });
            const resumed = train(fresh(), data, { ...options, maxSteps: 12, optimizer: "adamw_8bit", outputDir: "resumed", resumeFrom: "latest" });
            const head = (l) => l.slice(0, 3).reduce((a, b) => a + b) / 3, tail = (l) => l.slice(-3).reduce((a, b) => a + b) / 3;
            log("falls:", tail(whole.losses) < 0.7 * head(whole.losses));
            log("state ratio:", whole.optimizerStateBytes / float32.optimizerStateBytes);
            log("whole:", JSON.stringify(whole.losses.slice(6)));
            log("resumed:", JSON.stringify(resumed.losses.slice(6)));
            """);
        Assert.Contains("falls: true", run.Out);
        double ratio = double.Parse(run.Out.Split("state ratio: ")[1].Split('\n')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(ratio, 0.2, 0.45); // three of four tensors at ~1/4 of float32 state, one at full
        string Losses(string label) => run.Out.Split(label + " ")[1].Split('\n')[0];
        Assert.Equal(Losses("whole:"), Losses("resumed:"));

        // The checkpoint holds bitsandbytes-style state: uint8 codes with float32 scales, float32 for the small tensor.
        string checkpoint = Directory.GetDirectories(Path.Combine(_h.Output, "resumed", "checkpoints"), "checkpoint-6").Single();
        using var file = SafeTensorsFile.Open(Path.Combine(checkpoint, "optimizer.safetensors"));
        var q = file.Entries.Keys.First(k => k.Contains("q_proj.lora_A") && k.EndsWith(".state1", StringComparison.Ordinal));
        Assert.Equal(torch.ScalarType.Byte, file.Read(q).dtype);
        Assert.Contains(q.Replace(".state1", ".absmax2"), file.Entries.Keys);
        var smallState = file.Entries.Keys.First(k => k.Contains("v_proj.lora_B") && k.EndsWith(".state1", StringComparison.Ordinal));
        Assert.Equal(torch.ScalarType.Float32, file.Read(smallState).dtype);
        Assert.Equal("pefthost-adamw_8bit", file.Metadata["format"]);
    }

    [Fact]
    public void An_unknown_optimizer_is_refused_naming_the_key_and_the_choices()
    {
        string body = """
            train(fresh(), data, { ...options, maxSteps: 1, optimizer: "adamw8bit" });
            """;
        var run = _h.Run("recipe.js", Setup + "\n" + body);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "adamw8bit"), null,
            "train: option 'optimizer' must be \"adamw\", \"adamw_8bit\", got \"adamw8bit\"; did you mean \"adamw_8bit\"?");
    }

    [Fact]
    public void A_checkpoint_resumes_only_with_the_optimizer_that_wrote_it()
    {
        string body = """
            train(fresh(), data, { ...options, maxSteps: 2, optimizer: "adamw_8bit", checkpointEvery: 2, outputDir: "run" });
            train(fresh(), data, { ...options, maxSteps: 4, outputDir: "run", resumeFrom: "latest" });
            """;
        var run = _h.Run("recipe.js", Setup + "\n" + body);
        string err = RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "resumeFrom"), null,
            "the checkpoint's optimizer state is 'pefthost-adamw_8bit', this run's optimizer 'adamw' cannot resume from it");
        Assert.DoesNotContain("Exception", err);
    }
}
