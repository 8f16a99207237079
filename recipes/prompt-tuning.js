// Prompt tuning: trained virtual-token embeddings in front of every input, initialised from the
// embeddings of a text ("TEXT" init; "RANDOM" and "SAMPLE_VOCAB" are the alternatives).
//
//   peft run recipes/prompt-tuning.js --set steps=60
import { defineParams } from "peft";
import { runMethodDemo } from "./_method-demo.js";

const p = defineParams({ steps: 60, learningRate: 3e-2, virtualTokens: 8 });
runMethodDemo("prompt tuning (TEXT init): held-out stories", {
  method: "prompt_tuning",
  numVirtualTokens: p.virtualTokens,
  promptTuningInit: "TEXT",
  promptTuningInitText: "A story about Sparky the dragon:",
}, { steps: p.steps, learningRate: p.learningRate });
