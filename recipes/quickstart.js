// PeftHost's main job: teach the bundled stories260k model (260K parameters, trained on children's
// stories) to tell spam from ham with LoRA, on the bundled SpamAssassin corpus.
//
//   - train on the *-1 groups (class-balanced), test on the *-2 groups, collected later: half spam;
//   - the model reads the Subject line and the start of the body (other headers are dropped: they
//     change over time and give the collection away) and answers "spam" or "ham";
//   - reports accuracy / precision / recall / F1 before and after, the retention figures (perplexity
//     on Moby-Dick and the KL divergence from the base model), a few generations, and saves the
//     adapter in Hugging Face PEFT's format.
//
//   peft run recipes/quickstart.js                       # about 50 s on 2 cores once built; seeded: the same adapter every run
//   peft run recipes/quickstart.js --set testExamples=2796   # the whole *-2 split: 2,792 e-mails, about 70 s
import {
  defineParams, setSeed, loadModel, getPeftModel, printTrainableParameters, train, evaluate,
  retention, generate, disableAdapter, saveAdapter, table, plot, log,
} from "peft";
import { emails, trainGroups, testGroups } from "./_spamassassin.js";

const p = defineParams({ steps: 150, batchSize: 32, r: 16, learningRate: 3e-3, examples: 1000, testExamples: 600, maxLength: 128, seed: 42 });
setSeed(p.seed); // LoRA's initialisation (the data order has its own fixed seed): the same seed gives the same adapter

const trainSet = emails(trainGroups, p.examples, p.maxLength);
const testSet = emails(testGroups, p.testExamples, p.maxLength);
log(`train: ${trainSet.size} e-mails from the *-1 groups; test: ${testSet.size} e-mails from the *-2 groups`);

// r=16 in batches of 32 without dropout: on the whole *-2 split (--set testExamples=2796) this scored
// 0.929 (with --set seed=1, 2, 3: 0.918, 0.913, 0.913); r=8 in batches of 16 with dropout 0.05 scored 0.889.
const model = getPeftModel(loadModel("models/stories260k"), {
  method: "lora", r: p.r, loraAlpha: 2 * p.r, loraDropout: 0, targetModules: "all-linear",
});
printTrainableParameters(model);

const scores = (m) => ({ accuracy: m.accuracy, precision: m.precision, recall: m.recall, f1: m.f1 });
const before = evaluate(model, testSet, { positiveLabel: "spam", batchSize: 32 });
const run = train(model, trainSet, { maxSteps: p.steps, learningRate: p.learningRate, batchSize: p.batchSize, logEvery: 25, warmupRatio: 0.05 });
const after = evaluate(model, testSet, { positiveLabel: "spam", batchSize: 32 });
const kept = retention(model, "data/moby-dick.txt", { maxTokens: 2048 });

table([
  { model: "base stories260k", ...scores(before) },
  { model: `LoRA r=${p.r}, ${run.steps} steps`, ...scores(after) },
], { title: `spam vs ham on ${testSet.size} held-out e-mails (*-2 groups)` });

table([{
  "base perplexity": kept.basePerplexity, "adapted perplexity": kept.perplexity, "mean KL (nats)": kept.meanKl, tokens: kept.tokens,
}], { title: "retention on Moby-Dick (another domain)" });

const story = "Once upon a time, there was a little girl named";
table([
  { adapter: "LoRA", text: generate(model, story, { maxNewTokens: 24 }) },
  { adapter: "none", text: disableAdapter(model, () => generate(model, story, { maxNewTokens: 24 })) },
], { title: "the same story prompt with and without the adapter" });

plot({ "training loss": run.losses }, { file: "loss.png", title: "quickstart: LoRA on SpamAssassin", xLabel: "step", yLabel: "loss" });
const saved = saveAdapter(model, "adapter");
log(`adapter saved in PEFT format: ${saved}`);
