// LoRA fine-tuning on a data file of your choice: text (paragraphs), instruction or chat data, the
// format read from the fields as loadDataset reads it. In the dashboard, the Recipes panel's
// dataset chooser (d) lists the files in data/ and previews their first examples.
//
//   peft run recipes/sft.js --set dataset=data/moby-dick.txt --set steps=40
import {
  defineParams, loadModel, getPeftModel, printTrainableParameters, loadDataset,
  train, evaluate, saveAdapter, table,
} from "peft";

const p = defineParams({
  model: "models/stories260k",
  dataset: "data/moby-dick.txt", // a file loadDataset reads: .txt, .jsonl(.gz), .csv, .tsv, .parquet
  examples: 200,                 // records read from the file (the first ones)
  steps: 40,
  r: 8,
  learningRate: 3e-3,
  batchSize: 4,
  maxLength: 64,
});

const data = loadDataset(p.dataset, { maxLength: p.maxLength, limit: p.examples });
const { train: trainSet, validation } = data.split(0.1, { seed: 7 });

const model = getPeftModel(loadModel(p.model), {
  method: "lora", r: p.r, loraAlpha: 2 * p.r, loraDropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj"],
});
printTrainableParameters(model);

const before = evaluate(model, validation);
const result = train(model, trainSet, {
  maxSteps: p.steps, learningRate: p.learningRate, batchSize: p.batchSize, logEvery: 5,
  validation, evalEvery: Math.max(1, Math.floor(p.steps / 4)),
});
const after = evaluate(model, validation);
table([
  { stage: "before", loss: before.loss, perplexity: before.perplexity },
  { stage: "after", loss: after.loss, perplexity: after.perplexity },
], { title: `${p.dataset}: held-out loss, ${result.steps} steps` });
saveAdapter(model, "adapter");
