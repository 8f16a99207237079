// Classification by generation on the bundled SpamAssassin corpus: the model reads an e-mail and
// its LoRA adapter learns to answer "spam" or "ham". Evaluated by label likelihood (accuracy,
// precision/recall/F1 for spam) before and after training; the *-1 groups train, the *-2 groups test.
//
//   peft run recipes/classify-spam.js --set examples=400 --set steps=200
import { defineParams, loadModel, getPeftModel, train, evaluate, table, log } from "peft";
import { emails, trainGroups, testGroups } from "./_spamassassin.js";

const p = defineParams({ examples: 64, testExamples: 32, steps: 30, r: 8, learningRate: 3e-3, maxLength: 128 });

const trainSet = emails(trainGroups, p.examples, p.maxLength);
const testSet = emails(testGroups, p.testExamples, p.maxLength);
log(`train: ${trainSet.size} e-mails, test: ${testSet.size} e-mails`);

const model = getPeftModel(loadModel("models/stories260k"), {
  method: "lora", r: p.r, loraAlpha: 2 * p.r, loraDropout: 0.05, targetModules: ["q_proj", "v_proj", "o_proj"],
});

const metrics = (m) => ({ accuracy: m.accuracy, precision: m.precision, recall: m.recall, f1: m.f1, loss: m.loss });
const before = evaluate(model, testSet, { positiveLabel: "spam" });
const result = train(model, trainSet, {
  maxSteps: p.steps, learningRate: p.learningRate, batchSize: 8, logEvery: 10,
  validation: testSet, evalEvery: Math.max(1, Math.floor(p.steps / 2)),
  onEvaluate: (e) => log(`  step ${e.step}: eval accuracy ${e.metrics.eval_accuracy.toFixed(3)}`),
});
const after = evaluate(model, testSet, { positiveLabel: "spam" });

table([
  { stage: "before", ...metrics(before) },
  { stage: `after ${result.steps} steps`, ...metrics(after) },
], { title: "spam detection on held-out e-mails" });
