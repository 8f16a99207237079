// AdaLoRA: SVD-form adapters (P Λ Q) whose rank budget shrinks from initR to targetR per module
// during training — importance-scored triplets are masked on a cubic schedule, and the final
// rank_pattern is saved in adapter_config.json with the tensors pruned to it.
//
//   peft run recipes/adalora.js --set steps=60
import { defineParams } from "peft";
import { runMethodDemo } from "./_method-demo.js";

const p = defineParams({ steps: 60, learningRate: 1e-2 });
runMethodDemo("AdaLoRA on q/v: held-out stories", {
  method: "adalora",
  initR: 8,                 // every module starts with rank 8 …
  targetR: 4,               // … and ends with an average of 4
  loraAlpha: 16,
  targetModules: ["q_proj", "v_proj"],
  totalStep: p.steps,       // the schedule needs the run length
  tinit: Math.floor(p.steps / 6),   // full budget for the first steps
  tfinal: Math.floor(p.steps / 6),  // budget frozen for the last steps
  deltaT: 2,                // re-allocate every 2 steps
  beta1: 0.85, beta2: 0.85, // sensitivity and uncertainty EMAs
  orthRegWeight: 0.5,       // ‖PᵀP − I‖ + ‖QQᵀ − I‖ regulariser
}, { steps: p.steps, learningRate: p.learningRate });
