// Every method on the same task: SpamAssassin spam/ham with stories260k (train on *-1, test on
// *-2). For each: trainable parameters, training time and peak memory, accuracy and F1 on the
// held-out e-mails, and retention (Moby-Dick perplexity and KL from the base model). A table and
// a chart of accuracy against trainable parameters.
//
//   peft run recipes/compare-methods.js --set steps=150 --set testExamples=600
import {
  defineParams, loadModel, getPeftModel, printTrainableParameters, quantize, prepareModelForKbitTraining,
  train, evaluate, retention, table, plot, log,
} from "peft";
import { emails, trainGroups, testGroups } from "./_spamassassin.js";

const p = defineParams({ steps: 60, batchSize: 16, examples: 400, testExamples: 200, maxLength: 128 });

const trainSet = emails(trainGroups, p.examples, p.maxLength);
const testSet = emails(testGroups, p.testExamples, p.maxLength);

// Each method with its learning rate: prompt methods and IA³ train few parameters and want larger steps.
const methods = [
  { name: "LoRA r=8", lr: 3e-3, config: { method: "lora", r: 8, loraAlpha: 16, targetModules: "all-linear" } },
  { name: "QLoRA r=8 (nf4)", lr: 3e-3, quantized: true, config: { method: "lora", r: 8, loraAlpha: 16, targetModules: "all-linear" } },
  { name: "AdaLoRA 8→4", lr: 1e-2, config: { method: "adalora", initR: 8, targetR: 4, loraAlpha: 16, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], totalStep: p.steps, tinit: Math.floor(p.steps / 6), tfinal: Math.floor(p.steps / 6), deltaT: 2 } },
  { name: "IA³", lr: 5e-2, config: { method: "ia3" } },
  { name: "prompt tuning (16)", lr: 3e-2, config: { method: "prompt_tuning", numVirtualTokens: 16 } },
  { name: "P-tuning (16, MLP)", lr: 1e-2, config: { method: "p_tuning", numVirtualTokens: 16, encoderHiddenSize: 64 } },
  { name: "prefix tuning (16)", lr: 1e-2, config: { method: "prefix_tuning", numVirtualTokens: 16 } },
];

const rows = [];
for (const m of methods) {
  const base = loadModel("models/stories260k");
  if (m.quantized) {
    quantize(base, "nf4", { doubleQuant: true, blockSize: 64 });
    prepareModelForKbitTraining(base, { useGradientCheckpointing: false });
  }
  const model = getPeftModel(base, m.config);
  const trainable = Number(printTrainableParameters(model).match(/trainable params: ([\d,]+)/)[1].replaceAll(",", ""));
  const run = train(model, trainSet, { maxSteps: p.steps, learningRate: m.lr, batchSize: p.batchSize, logEvery: 1000 });
  const scores = evaluate(model, testSet, { positiveLabel: "spam", batchSize: 32 });
  const kept = retention(model, "data/moby-dick.txt", { maxTokens: 1024 });
  rows.push({
    method: m.name,
    "trainable params": trainable,
    seconds: run.seconds,
    "peak MiB": run.peakMemoryBytes === null ? null : run.peakMemoryBytes / 1048576,
    accuracy: scores.accuracy,
    f1: scores.f1,
    "Moby-Dick ppl": kept.perplexity,
    "KL (nats)": kept.meanKl,
  });
  log(`${m.name}: accuracy ${scores.accuracy.toFixed(3)} in ${run.seconds.toFixed(1)} s`);
}

table(rows, { title: `every method on SpamAssassin (${p.steps} steps of ${p.batchSize}; ${testSet.size} held-out e-mails)` });
plot(Object.fromEntries(rows.map((r) => [r.method, [[Math.log10(r["trainable params"]), r.accuracy]]])),
  { file: "compare-methods.png", title: "accuracy vs trainable parameters", xLabel: "log10 trainable parameters", yLabel: "accuracy" });
