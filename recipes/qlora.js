// QLoRA: the base model's linear layers quantized to 4-bit NF4 (bitsandbytes layout, double
// quantization), prepared for k-bit training, then a LoRA adapter trained on top in full
// precision. The quantized base is saved (bitsandbytes layout, loadable by transformers) and
// reloaded with the saved adapter, which must give the same loss. Needs the Quantization plugin
// (built into artifacts/plugins/ with the host).
//
//   peft run recipes/qlora.js --set steps=100 --set r=16
import {
  defineParams, loadModel, quantize, prepareModelForKbitTraining, getPeftModel,
  printTrainableParameters, loadDataset, train, evaluate, generate, saveAdapter, saveModel, loadAdapter,
  log, table,
} from "peft";

const p = defineParams({ steps: 40, r: 8, learningRate: 3e-3, quantType: "nf4" });

const model = loadModel("models/stories260k");
const text = loadDataset([
  "The old lighthouse stood by the sea. Every night its light turned round and round.",
  "Mia lived in the old lighthouse with her cat. She climbed the stairs to light the lamp.",
  "One stormy night the lamp went out. Mia climbed the stairs and lit it again.",
  "The ships saw the light and came home safe. Mia and her cat smiled by the sea.",
], { format: "text", maxLength: 40 });

const full = evaluate(model, text).loss;
quantize(model, p.quantType, { doubleQuant: true, blockSize: 64, computeDtype: "float32" });
const quantized = evaluate(model, text).loss;
const baseDir = saveModel(model, "qlora-base");

prepareModelForKbitTraining(model, { useGradientCheckpointing: true });
const peft = getPeftModel(model, {
  method: "lora", r: p.r, loraAlpha: 2 * p.r, loraDropout: 0,
  targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
});
printTrainableParameters(peft);

const result = train(peft, text, { maxSteps: p.steps, learningRate: p.learningRate, batchSize: 4, logEvery: 10 });
const tuned = evaluate(peft, text).loss;

table([
  { model: "float32", loss: full },
  { model: `${p.quantType} (double quant)`, loss: quantized },
  { model: `${p.quantType} + LoRA, ${result.steps} steps`, loss: tuned },
], { title: "loss on the training text" });
table([{ prompt: "The old lighthouse", continuation: generate(peft, "The old lighthouse", { maxNewTokens: 24 }) }]);
const adapterDir = saveAdapter(peft, "qlora-adapter");

// Later, elsewhere: the saved 4-bit base (loaded quantized, no full-precision copy) and the adapter.
const reloaded = loadAdapter(loadModel(baseDir), adapterDir);
const reloadedLoss = evaluate(reloaded, text).loss;
log(`reloaded ${baseDir} + ${adapterDir}: loss ${reloadedLoss}`);
if (reloadedLoss !== tuned) throw new Error(`the reloaded base + adapter scores ${reloadedLoss}, the trained model ${tuned}`);
