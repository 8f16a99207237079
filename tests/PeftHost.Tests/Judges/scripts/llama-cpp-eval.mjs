// Runs a GGUF model (and optionally a LoRA adapter GGUF) in llama.cpp through node-llama-cpp and prints, as JSON:
// - for each prompt: llama.cpp's own tokenization, its greedy continuation, and prompt + continuation detokenized together;
// - for each text: the mean next-token negative log-likelihood over the text's tokens (the first has no prediction);
// - for logprobTexts: the log-probabilities of every vocabulary entry at every position.
// Parity settings: CPU only, no build, flash attention off, F32 KV cache, sampler neutral (temperature 1, no top-k/p/min-p,
// no repeat penalty), so that the probabilities are the plain softmax of the logits and greedy is their argmax.
// stdin: { model, lora?, prompts: [string], maxTokens, texts: [string], logprobTexts?: [string] }
import { getLlama } from "node-llama-cpp";

const input = JSON.parse(await new Promise(resolve => {
    let data = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", chunk => data += chunk);
    process.stdin.on("end", () => resolve(data));
}));

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath: input.model, gpuLayers: 0, defaultContextFlashAttention: false });
const context = await model.createContext({
    contextSize: 256,
    batchSize: 256,
    sequences: 1,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
    ...(input.lora ? { lora: { adapters: [{ filePath: input.lora, scale: 1 }] } } : {}),
});
const sequence = context.getSequence();
const vocabSize = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
const neutral = { temperature: 1, topK: vocabSize, topP: 1, minP: 0 };
const next = { generateNext: { probabilities: true, options: neutral } };

/** Evaluates tokens from a fresh sequence; returns, per position asked for, the probabilities of the next token. */
async function evaluate(tokens, askAt) {
    await sequence.clearHistory();
    const items = tokens.map((t, i) => askAt(i) ? [t, next] : t);
    return await sequence.controlledEvaluate(items);
}

function argmax(probabilities) {
    let best = -1, bestP = -1;
    for (const [token, p] of probabilities) if (p > bestP || (p === bestP && token < best)) { best = token; bestP = p; }
    return best;
}

const prompts = [];
for (const prompt of input.prompts ?? []) {
    const promptTokens = [...model.tokenize(prompt)];
    if (model.tokens.bos != null && model.fileInfo.metadata.tokenizer.ggml.add_bos_token !== false) promptTokens.unshift(model.tokens.bos);
    const tokens = [...promptTokens];
    const generated = [];
    for (let step = 0; step < input.maxTokens; step++) {
        const out = await evaluate(tokens, i => i === tokens.length - 1);
        const token = argmax(out[tokens.length - 1].next.probabilities);
        generated.push(token);
        tokens.push(token);
        if (token === model.tokens.eos) break;
    }
    prompts.push({ promptTokens, generated, text: model.detokenize(tokens) });
}

async function tokensOf(text) {
    const tokens = [...model.tokenize(text)];
    if (model.tokens.bos != null) tokens.unshift(model.tokens.bos);
    return tokens;
}

const texts = [];
for (const text of input.texts ?? []) {
    const tokens = await tokensOf(text);
    const out = await evaluate(tokens, i => i < tokens.length - 1);
    let sum = 0;
    for (let i = 0; i < tokens.length - 1; i++) sum -= Math.log(out[i].next.probabilities.get(tokens[i + 1]) ?? 0);
    texts.push({ tokens, nll: sum / (tokens.length - 1) });
}

const logprobs = [];
for (const text of input.logprobTexts ?? []) {
    const tokens = await tokensOf(text);
    const out = await evaluate(tokens, () => true);
    logprobs.push({
        tokens,
        rows: tokens.map((_, i) => {
            const row = new Array(vocabSize).fill(null);
            for (const [token, p] of out[i].next.probabilities) row[token] = Math.log(p);
            return row;
        }),
    });
}

process.stdout.write(JSON.stringify({ prompts, texts, logprobs }));
await context.dispose();
await model.dispose();
await llama.dispose();
