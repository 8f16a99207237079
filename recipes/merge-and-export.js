// Train a LoRA adapter, save it, load it onto a fresh copy of the base model, merge it into the
// weights and export a plain Hugging Face model folder — then check the export generates exactly
// what the adapter did.
//
//   peft run recipes/merge-and-export.js --set steps=40
import {
  defineParams, loadModel, getPeftModel, loadAdapter, loadDataset, train, saveAdapter,
  mergeAndUnload, saveModel, generate, printTrainableParameters, log,
} from "peft";

const p = defineParams({ steps: 30, prompt: "The little robot" });

// 1. Train and save an adapter.
const trained = getPeftModel(loadModel("models/stories260k"), {
  method: "lora", r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"],
});
const data = loadDataset([
  "The little robot liked to dance. Every day the little robot danced in the garden.",
  "The little robot had blue lights. When the little robot was happy, the lights blinked.",
], { format: "text", maxLength: 32 });
train(trained, data, { maxSteps: p.steps, learningRate: 5e-3, batchSize: 2, logEvery: 10 });
const adapterDir = saveAdapter(trained, "adapter");
const expected = generate(trained, p.prompt, { maxNewTokens: 24 });

// 2. A fresh base model + the saved adapter, merged into the weights.
const reloaded = loadAdapter(loadModel("models/stories260k"), adapterDir);
printTrainableParameters(reloaded);
const merged = mergeAndUnload(reloaded);
const exportDir = saveModel(merged, "merged-model");

// 3. The exported folder is a plain model: no adapter code needed to use it.
const exported = loadModel(exportDir);
const got = generate(exported, p.prompt, { maxNewTokens: 24 });
log(`adapter:  ${p.prompt}${expected}`);
log(`exported: ${p.prompt}${got}`);
if (got !== expected) throw new Error("the merged export does not generate what the adapter did");
log(`exported ${exported.parameters.toLocaleString()} parameters to ${exportDir}`);
