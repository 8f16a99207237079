using PeftHost.Tests.Recipes;

namespace PeftHost.Tests.Quantization;

/// <summary><c>prepareModelForKbitTraining</c> through a recipe, on a half-precision model whose quantization kept some layers whole.</summary>
public sealed class KbitTrainingRecipeTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Preparing_a_bfloat16_model_casts_the_layers_kept_whole_and_training_runs_on_the_cast_weights()
    {
        // down_proj stays a bf16 Linear through quantization: after the cast its forward must read the float32 weight
        // (a stale bf16 one would meet float32 activations and fail), as must the norms and the embedding table.
        var run = _h.RunOk("""
            import { loadModel, quantize, prepareModelForKbitTraining, getPeftModel, loadDataset, train, evaluate, log } from "peft";
            const model = loadModel("models/stories260k", { dtype: "bfloat16" });
            quantize(model, "nf4", { blockSize: 64, computeDtype: "float32", skipModules: ["down_proj"] });
            prepareModelForKbitTraining(model, { useGradientCheckpointing: true });
            const peft = getPeftModel(model, { method: "lora", r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"] });
            const data = loadDataset(["Sparky the dragon lived in a big cave.", "Lily found a red ball in the park."], { format: "text", maxLength: 16 });
            const result = train(peft, data, { maxSteps: 2, batchSize: 2, logEvery: 1 });
            log("loss:", Number.isFinite(result.finalLoss), "eval:", Number.isFinite(evaluate(peft, data).loss));
            """);
        // 5 layers × (input_layernorm, post_attention_layernorm, down_proj), model.norm and the tied embedding table.
        Assert.Contains("prepared for k-bit training: 17 parameters cast to float32, gradient checkpointing on", run.Err);
        Assert.Contains("loss: true eval: true", run.Out);
    }
}
