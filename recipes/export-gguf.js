// Out into the world: train a LoRA adapter briefly, then export for llama.cpp, Ollama and LM Studio —
// the base model and the adapter unmerged (llama.cpp loads the adapter beside the base at run time),
// and the adapter merged into one model file, quantized to q8_0 — and print the sizes and the
// commands to run next.
//
//   peft run recipes/export-gguf.js --set steps=40 --set type=q4_0
import { defineParams, setSeed, loadModel, getPeftModel, train, mergeAndUnload, exportGguf, generate, table, log } from "peft";
import { storySplits } from "./_stories.js";

const p = defineParams({ steps: 30, r: 8, type: "q8_0", seed: 42 });
setSeed(p.seed);

const base = loadModel("models/stories260k");
const baseGguf = exportGguf(base, "stories260k-f32.gguf");

const model = getPeftModel(base, { method: "lora", r: p.r, loraAlpha: 2 * p.r, targetModules: "all-linear" });
const { train: trainSet } = storySplits();
train(model, trainSet, { maxSteps: p.steps, learningRate: 5e-3, batchSize: 3, logEvery: 10 });
log(`adapted: Sparky the dragon${generate(model, "Sparky the dragon", { maxNewTokens: 16 })}`);
const adapterGguf = exportGguf(model, "stories260k-lora-f32.gguf");

const merged = mergeAndUnload(model);
const mergedGguf = exportGguf(merged, `stories260k-merged-${p.type}.gguf`, { type: p.type });

table([baseGguf, adapterGguf, mergedGguf].map(g => ({ file: g.file.split("/").pop(), kind: g.kind, type: g.type, bytes: g.bytes })),
  { title: "GGUF files" });
log("next:");
log(`  llama-cli -m ${baseGguf.file} --lora ${adapterGguf.file} -p "Sparky the dragon"   # adapter unmerged`);
log(`  llama-cli -m ${mergedGguf.file} -p "Sparky the dragon"                           # merged, ${p.type}`);
log(`  ollama create stories-sparky -f ${mergedGguf.modelfile} && ollama run stories-sparky`);
