// Several adapters on one base model: train one adapter per topic, switch between them, serve a
// mixed batch where each row uses its own adapter, and blend two adapters into a third.
//
//   peft run recipes/multi-adapter.js --set steps=60
import {
  defineParams, loadModel, getPeftModel, addAdapter, setAdapter, loadDataset, train, evaluate,
  generate, addWeightedAdapter, on, table, log,
} from "peft";

const p = defineParams({ steps: 40, r: 8, learningRate: 4e-3 });

const topics = {
  dragon: [
    "Sparky the dragon lived in a big cave. Sparky liked to fly over the town.",
    "Sparky the dragon found a red ball and gave it to a little girl.",
    "Sparky the dragon baked a cake for his mom. The cake was sweet.",
    "Sparky the dragon helped a small bird fly back to its nest.",
  ],
  cat: [
    "Bella the cat slept in the warm sun. Bella liked milk and soft beds.",
    "Bella the cat chased a yellow string around the kitchen all day.",
    "Bella the cat climbed the tall tree and saw the whole garden.",
    "Bella the cat purred when Lily gave her a gentle hug.",
  ],
};

const lora = { method: "lora", r: p.r, loraAlpha: 2 * p.r, loraDropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj"] };
const base = loadModel("models/stories260k");
const model = getPeftModel(base, lora, "dragon");
addAdapter(model, "cat", lora);

// on() subscriptions apply to every train() call: here, a progress line every 20 steps.
on("step", (step) => {
  if (step.step % 20 === 0) step.log(`  [${step.adapter}] step ${step.step}/${step.totalSteps} loss ${step.loss.toFixed(3)}`);
});

const datasets = {};
for (const [name, texts] of Object.entries(topics)) {
  datasets[name] = loadDataset(texts, { format: "text", maxLength: 32 });
  setAdapter(model, name); // the active adapter is the one that trains
  const result = train(model, datasets[name], { maxSteps: p.steps, learningRate: p.learningRate, batchSize: 4, logEvery: 20, outputDir: `train-${name}` });
  log(`${name}: ${result.reason} after ${result.steps} steps, loss ${result.finalLoss.toFixed(3)}`);
}

// Each adapter should fit its own topic better than the other one does.
const rows = [];
for (const adapter of ["dragon", "cat"]) {
  setAdapter(model, adapter);
  rows.push({ adapter, "dragon loss": evaluate(model, datasets.dragon).loss, "cat loss": evaluate(model, datasets.cat).loss });
}
table(rows, { title: "loss of each adapter on each topic" });

// One batch, one adapter per row ("__base__" is the model without adapters).
const prompts = ["Sparky the", "Bella the", "Once upon a"];
const outputs = generate(model, prompts, { maxNewTokens: 16, adapterNames: ["dragon", "cat", "__base__"] });
table(prompts.map((prompt, i) => ({ prompt, adapter: ["dragon", "cat", "__base__"][i], continuation: outputs[i] })), { title: "mixed-adapter batch" });

// A blend of both adapters, as a new adapter.
addWeightedAdapter(model, ["dragon", "cat"], [0.5, 0.5], "both", { combinationType: "linear" });
setAdapter(model, "both");
log("both:", generate(model, "Sparky the", { maxNewTokens: 16 }));

export const adapters = model.adapters;
if (rows[0]["dragon loss"] >= rows[1]["dragon loss"] || rows[1]["cat loss"] >= rows[0]["cat loss"])
  throw new Error("each adapter should fit its own topic best");
