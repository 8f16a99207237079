// LoRA fine-tuning of the bundled stories260k model on a handful of stories about Sparky the
// dragon (recipes/_stories.js): evaluate, train with a validation split and a step handler,
// evaluate again, generate, save the adapter in PEFT's layout and plot the loss.
//
//   peft run recipes/lora.js --set steps=200 --set r=16
import {
  defineParams, loadModel, getPeftModel, printTrainableParameters,
  train, evaluate, generate, saveAdapter, table, plot, log,
} from "peft";
import { storySplits } from "./_stories.js";

const p = defineParams({
  model: "models/stories260k",
  steps: 80,
  r: 8,
  learningRate: 3e-3,
  batchSize: 4,
  targetLoss: 0.05,
});

const model = loadModel(p.model);
const { train: trainSet, validation } = storySplits(); // 6 training stories, 2 held out

const peft = getPeftModel(model, {
  method: "lora",
  r: p.r,
  loraAlpha: 2 * p.r,
  loraDropout: 0,
  targetModules: ["q_proj", "k_proj", "v_proj", "o_proj"],
});
printTrainableParameters(peft);

const before = evaluate(peft, validation);
const result = train(peft, trainSet, {
  maxSteps: p.steps,
  learningRate: p.learningRate,
  batchSize: p.batchSize,
  warmupSteps: Math.min(10, p.steps),
  logEvery: 10,
  validation,
  evalEvery: Math.max(1, Math.floor(p.steps / 4)),
  onStep(step) {
    if (step.loss < p.targetLoss) step.stop(`loss ${step.loss.toFixed(4)} is below ${p.targetLoss}`);
  },
});
const after = evaluate(peft, validation);

table([
  { stage: "before", loss: before.loss, perplexity: before.perplexity },
  { stage: "after", loss: after.loss, perplexity: after.perplexity },
], { title: `validation (${validation.size} stories): ${result.reason} after ${result.steps} steps` });

log("Once upon a time …", generate(peft, "Once upon a time", { maxNewTokens: 40 }));
saveAdapter(peft, "adapter");
plot({ "train loss": result.losses.map((loss, i) => [i + 1, loss]) }, { file: "loss-curve.png", title: "LoRA on stories260k", yLabel: "loss" });

export const improved = after.loss < before.loss;
if (!improved) throw new Error(`LoRA did not lower the validation loss (${before.loss} → ${after.loss})`);
