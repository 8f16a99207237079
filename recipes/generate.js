// Greedy generation with the bundled stories260k model: a few prompts, continued in one batch,
// printed as a table.
//
//   peft run recipes/generate.js --set maxNewTokens=48
import { defineParams, loadModel, generate, table, log } from "peft";

const p = defineParams({
  model: "models/stories260k",
  maxNewTokens: 32,
  prompts: ["Once upon a time", "The little dog", "Lily and Ben went to the park"],
});

const model = loadModel(p.model);
log(`${model.name}: ${model.parameters.toLocaleString()} parameters, ${model.config.num_hidden_layers} layers`);

// One batched call: the prompts are left-padded and decoded together, greedily (the default).
const continuations = generate(model, p.prompts, { maxNewTokens: p.maxNewTokens });

table(
  p.prompts.map((prompt, i) => ({ prompt, continuation: continuations[i].trim() })),
  { title: `greedy continuations (${p.maxNewTokens} new tokens at most)`, maxWidth: 100 },
);

export const results = continuations;
