// Renders a Jinja template with @huggingface/jinja (the renderer transformers.js uses).
// stdin: {"template": "...", "context": {...}}; stdout: the rendered text.
import { Template } from "@huggingface/jinja";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { template, context } = JSON.parse(input);
process.stdout.write(new Template(template).render(context));
