// Renders many Jinja templates with @huggingface/jinja (the renderer transformers.js uses) in one process.
// stdin: [{"template": "...", "context": {...}}, ...]
// stdout: [{"output": "..."} | {"error": "..."}, ...] in the same order.
import { Template } from "@huggingface/jinja";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map(({ template, context }) => {
  try {
    return { output: new Template(template).render(context) };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(results));
