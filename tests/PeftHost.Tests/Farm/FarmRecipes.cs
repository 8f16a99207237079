namespace PeftHost.Tests.Farm;

/// <summary>The recipe the farm tests sweep: a few seeded LoRA steps on stories260k with a checkpoint every step.</summary>
public static class FarmRecipes
{
    /// <summary>
    /// <c>steps</c>, <c>lr</c>, <c>r</c>; <c>stepMs</c> stretches each step (so a test can kill a silo mid-job); a job
    /// with <c>r</c> equal to <c>failR</c> throws (a recipe error). Ends with a table whose last row has the final loss.
    /// No dropout: a resumed run then ends with the uninterrupted run's adapter bit for bit (see ResumeCliTests).
    /// </summary>
    public const string Training = """
        import { loadModel, getPeftModel, loadDataset, saveAdapter, train, defineParams, setSeed, table } from "peft";
        const params = defineParams({ steps: 3, lr: 0.01, r: 4, stepMs: 0, failR: -1 });
        if (params.r === params.failR) throw new Error(`r=${params.r} is refused by this recipe`);
        setSeed(7);
        const texts = [
          "Sparky the dragon lived in a big cave and liked to fly.",
          "Sparky the dragon found a red ball and gave it to Lily.",
          "Sparky the dragon baked a sweet cake for his mom.",
          "Sparky the dragon helped a bird fly back to its nest.",
          "Tom had a red ball and a blue kite in the park.",
        ];
        const model = getPeftModel(loadModel("models/stories260k"),
          { method: "lora", r: params.r, loraAlpha: 2 * params.r, loraDropout: 0, targetModules: ["q_proj", "v_proj"] });
        const data = loadDataset(texts, { format: "text", maxLength: 24 });
        const run = train(model, data, { maxSteps: params.steps, batchSize: 2, learningRate: params.lr, logEvery: 1, checkpointEvery: 1,
          onStep: () => { const end = Date.now() + params.stepMs; while (Date.now() < end) { } } });
        saveAdapter(model, "adapter");
        table([{ r: params.r, lr: params.lr, loss: run.finalLoss }]);
        """;
}
