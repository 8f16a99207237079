// The body every per-method recipe shares: inject the method, train on the stories, compare the
// held-out loss before and after, generate, and save the adapter in Hugging Face PEFT's layout.
import { loadModel, getPeftModel, printTrainableParameters, train, evaluate, generate, saveAdapter, table, log } from "peft";
import { storySplits } from "./_stories.js";

/** Runs the demo for one method config; returns the before/after held-out losses. */
export function runMethodDemo(title, config, { steps, learningRate, batchSize = 3 }) {
  const { train: trainSet, validation } = storySplits();
  const model = getPeftModel(loadModel("models/stories260k"), config);
  printTrainableParameters(model);
  const before = evaluate(model, validation);
  const result = train(model, trainSet, { maxSteps: steps, learningRate, batchSize, logEvery: 10 });
  const after = evaluate(model, validation);
  table([
    { stage: "before", "held-out loss": before.loss, perplexity: before.perplexity },
    { stage: `after ${result.steps} steps`, "held-out loss": after.loss, perplexity: after.perplexity },
  ], { title });
  log(generate(model, "Sparky the dragon", { maxNewTokens: 24 }));
  saveAdapter(model, "adapter");
  return { before: before.loss, after: after.loss };
}
