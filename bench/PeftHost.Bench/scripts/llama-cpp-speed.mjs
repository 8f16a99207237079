// llama.cpp side of the `anchors` bench suite, through node-llama-cpp: decode and prefill speed of a GGUF model.
// Settings as PeftHost's side runs: CPU only, no build, the given thread count, flash attention off, F32 KV cache,
// greedy decoding (temperature 0) that never stops at the end-of-sequence token (yieldEogToken), batch 1.
// stdin: { model, threads, decodeTokens, skipTokens, prefill: [token ids], prefillRuns }
// stdout (JSON): { decodeTokensPerSecond, generated: [ids], prefillSeconds: [s per run], firstTokenSeconds }
// - decode: from BOS alone, decodeTokens tokens; tokens/s over those after the first skipTokens (loading and the
//   first steps left out);
// - prefill: the prompt evaluated from an empty sequence and its first token chosen, prefillRuns times after one warm-up;
// - firstTokenSeconds: process start (node's clock) to the first decoded token: loading the package and the model included.
import { getLlama } from "node-llama-cpp";

const input = JSON.parse(await new Promise(resolve => {
    let data = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", chunk => data += chunk);
    process.stdin.on("end", () => resolve(data));
}));

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath: input.model, gpuLayers: 0, defaultContextFlashAttention: false });
const longest = Math.max(input.decodeTokens + 1, (input.prefill ?? []).length + 1);
const context = await model.createContext({
    contextSize: Math.max(512, longest),
    batchSize: Math.max(512, longest),
    sequences: 1,
    threads: input.threads,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
});
const sequence = context.getSequence();
const greedy = { temperature: 0, yieldEogToken: true };

/** Greedy tokens after prompt, up to count; calls onToken(index) as each arrives. */
async function generate(prompt, count, onToken) {
    await sequence.clearHistory();
    const tokens = [];
    for await (const token of sequence.evaluate(prompt, greedy)) {
        tokens.push(token);
        onToken?.(tokens.length);
        if (tokens.length >= count) break;
    }
    return tokens;
}

let firstTokenSeconds = null;
let skipAt = 0, endAt = 0;
const generated = await generate([model.tokens.bos], input.decodeTokens, n => {
    const now = performance.now();
    if (n === 1) firstTokenSeconds = process.uptime();
    if (n === input.skipTokens) skipAt = now;
    if (n === input.decodeTokens) endAt = now;
});
const decodeTokensPerSecond = input.decodeTokens > input.skipTokens
    ? (input.decodeTokens - input.skipTokens) / ((endAt - skipAt) / 1000) : null;

const prefillSeconds = [];
if (input.prefill?.length) {
    for (let run = 0; run <= input.prefillRuns; run++) {
        const start = performance.now();
        await generate(input.prefill, 1);
        if (run > 0) prefillSeconds.push((performance.now() - start) / 1000);
    }
}

process.stdout.write(JSON.stringify({ decodeTokensPerSecond, generated, prefillSeconds, firstTokenSeconds }));
await context.dispose();
await model.dispose();
await llama.dispose();
