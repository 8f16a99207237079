// A short LoRA run on the bundled stories260k model that writes a checkpoint after every step, for
// the kill-and-resume tests: they SIGKILL it mid-run, start it again with --set resume=latest, and
// compare the final adapter and losses with an uninterrupted run.
//
//   peft run train-every-step.js --workspace <repo> --out DIR [--set steps=10] [--set resume=latest]
import { defineParams, loadModel, getPeftModel, loadDataset, train, saveAdapter, log } from "peft";

const p = defineParams({ steps: 10, resume: "no" });

// Two separate processes must start from the same adapter: a recipe cannot seed torch's generator
// (there is no setSeed), so the adapter is initialised deterministically (OLoRA: from the QR
// decomposition of the base weights) and without dropout. Shuffling is on (seeded by the trainer),
// so an exact resume must restore the data order and the schedule.
const model = getPeftModel(loadModel("models/stories260k"), {
  method: "lora", r: 4, loraAlpha: 8, loraDropout: 0, initLoraWeights: "olora", targetModules: ["q_proj", "v_proj"],
});
const lines = [];
for (let i = 0; i < 24; i++) lines.push(`Story ${i}: the little cat number ${i % 5} sat on the mat and looked at the moon ${i % 3} times.`);
const data = loadDataset(lines, { format: "text", maxLength: 48, packing: false });

const options = {
  maxSteps: p.steps, learningRate: 5e-3, batchSize: 4, logEvery: 1, warmupSteps: 2, schedule: "cosine", seed: 7,
  checkpointEvery: 1, keepLastCheckpoints: 2, outputDir: "train",
};
if (p.resume !== "no") options.resumeFrom = p.resume;
const result = train(model, data, options);
log("losses " + JSON.stringify(result.losses));
saveAdapter(model, "adapter");
