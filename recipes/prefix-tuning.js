// Prefix tuning: trained key/value prefixes for every attention layer (with grouped-query
// attention the prefix has the model's key/value heads), here with PEFT's MLP reparametrisation.
//
//   peft run recipes/prefix-tuning.js --set steps=60
import { defineParams } from "peft";
import { runMethodDemo } from "./_method-demo.js";

const p = defineParams({ steps: 60, learningRate: 1e-2, virtualTokens: 8 });
runMethodDemo("prefix tuning (MLP reparametrisation): held-out stories", {
  method: "prefix_tuning",
  numVirtualTokens: p.virtualTokens,
  prefixProjection: true,   // Embedding → Linear → Tanh → Linear while training
  encoderHiddenSize: 64,
}, { steps: p.steps, learningRate: p.learningRate });
