// P-tuning: the virtual tokens come out of a prompt encoder (an MLP here; "LSTM" also works).
// What is saved is the encoder's output, as PEFT does.
//
//   peft run recipes/p-tuning.js --set steps=60
import { defineParams } from "peft";
import { runMethodDemo } from "./_method-demo.js";

const p = defineParams({ steps: 60, learningRate: 1e-2, virtualTokens: 8 });
runMethodDemo("P-tuning (MLP encoder): held-out stories", {
  method: "p_tuning",
  numVirtualTokens: p.virtualTokens,
  encoderReparameterizationType: "MLP",
  encoderHiddenSize: 64,
  encoderDropout: 0.0,
}, { steps: p.steps, learningRate: p.learningRate });
