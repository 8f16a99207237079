// The shortest path through the API: load a model, add a LoRA adapter, train it a little on a
// few lines of text, and compare generations with and without it.
//
//   peft run recipes/quickstart.js --set steps=30
import { defineParams, loadModel, getPeftModel, printTrainableParameters, loadDataset, train, generate, disableAdapter, table } from "peft";

const p = defineParams({ steps: 30 });

const model = getPeftModel(loadModel("models/stories260k"), {
  method: "lora",
  r: 8,
  loraAlpha: 16,
  targetModules: ["q_proj", "v_proj"],
});
printTrainableParameters(model);

const data = loadDataset([
  "The moon was a big cookie. Every night the kids took a bite of the moon cookie.",
  "Tom looked at the moon cookie and smiled. The moon cookie was sweet and round.",
  "At night the moon cookie came out. The kids said: good night, moon cookie!",
], { format: "text", maxLength: 32 });

const result = train(model, data, { maxSteps: p.steps, learningRate: 5e-3, batchSize: 3, logEvery: 10 });

const prompt = "At night the";
table([
  { adapter: "lora", text: generate(model, prompt, { maxNewTokens: 20 }) },
  { adapter: "none", text: disableAdapter(model, () => generate(model, prompt, { maxNewTokens: 20 })) },
], { title: `"${prompt}…" after ${result.steps} steps (loss ${result.finalLoss.toFixed(3)})` });
