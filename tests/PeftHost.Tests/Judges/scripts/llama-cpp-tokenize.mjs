// Loads only the vocabulary of a GGUF model in llama.cpp (through node-llama-cpp) and prints, as JSON:
// - pre, bos, eos: the file's tokenizer.ggml.pre and the BOS / EOS ids llama.cpp takes from it;
// - for each text: llama.cpp's tokens (special-token text matched as special tokens, no BOS added), and those tokens
//   detokenized with special tokens rendered as their text;
// - for each id list in decode: those ids detokenized the same way.
// stdin: { model, texts: [string], decode: [[id]] }
import { getLlama } from "node-llama-cpp";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { model: modelPath, texts, decode } = JSON.parse(input);

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, vocabOnly: true });
const tokenized = texts.map(text => {
    const tokens = [...model.tokenize(text, true)];
    return { tokens, text: model.detokenize(tokens, true) };
});
const decoded = (decode ?? []).map(ids => model.detokenize(ids, true));
process.stdout.write(JSON.stringify({
    pre: model.fileInfo.metadata.tokenizer.ggml.pre ?? null,
    bos: model.tokens.bos,
    eos: model.tokens.eos,
    tokenized,
    decoded,
}));
await model.dispose();
await llama.dispose();
