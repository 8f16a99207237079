// IA³: learned vectors that rescale the outputs of k_proj and v_proj and the input of the
// feed-forward down_proj — a few thousand parameters, mergeable into the weights.
//
//   peft run recipes/ia3.js --set steps=60
import { defineParams } from "peft";
import { runMethodDemo } from "./_method-demo.js";

const p = defineParams({ steps: 60, learningRate: 5e-2 });
runMethodDemo("IA³ on k/v/down_proj: held-out stories", {
  method: "ia3",
  targetModules: ["k_proj", "v_proj", "down_proj"],
  feedforwardModules: ["down_proj"], // scaled on its input, the others on their output
}, { steps: p.steps, learningRate: p.learningRate });
