// Chat fine-tuning (supervised fine-tuning on conversations) of the bundled stories260k model:
//
//   - stories260k has no chat template, so the recipe gives it one (plain words: its vocabulary is
//     tiny) with setChatTemplate; chat, the dataset and the saved adapter all use it;
//   - the conversations are built from the bundled SpamAssassin e-mails: a system prompt, the user
//     shows an e-mail and asks whether it is spam, the assistant answers "spam" or "ham", the user
//     asks a follow-up question (the subject), the assistant answers it;
//   - the loss is on the assistant's turns only (trainOnResponsesOnly, the default): the e-mail and
//     the questions are context, never targets;
//   - the template ends each answer with </s>, a token stories260k never learned to predict (its
//     stories carry no end marker), so its row of the (tied) embedding table trains with the adapter:
//     modulesToSave embed_tokens with ensureWeightTying, as PEFT users do for a chat template's new
//     tokens; without it LoRA learns "spam"/"ham" but the answer runs on instead of ending;
//   - prints the assistant's answers before and after training through chat, the held-out loss, and
//     saves the adapter with the template in its tokenizer_config.json (as TRL's trainer does).
//
//   peft run recipes/chat-sft.js                        # about 70 s on 2 cores once built: both sample e-mails answered right, each answer ended by </s>
//   peft run recipes/chat-sft.js --set packing=true       # several conversations in each sequence
import {
  defineParams, setSeed, loadModel, setChatTemplate, getPeftModel, printTrainableParameters, loadDataset,
  train, evaluate, chat, disableAdapter, saveAdapter, table, log,
} from "peft";

const p = defineParams({
  steps: 150, batchSize: 16, r: 8, learningRate: 3e-3, examples: 1000, testExamples: 64, maxLength: 192,
  packing: false, seed: 42,
});
setSeed(p.seed);

// System prompt, then "Q: …" for the user and "A: …</s>" for the assistant; the generation prompt is "A:".
const template = `{%- for m in messages %}
    {%- if m.role == 'system' %}{{ m.content | trim }}
{% elif m.role == 'user' %}Q: {{ m.content | trim }}
{% elif m.role == 'assistant' %}A: {{ m.content | trim }}{{ eos_token }}
{% else %}{{ raise_exception('Only system, user and assistant roles are supported') }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}A:{% endif %}`;

const system = "You sort e-mail. Say if an e-mail is spam or ham, then answer questions about it.";
const question = "Is this e-mail spam or ham?";
const followUp = "What is its subject?";

/** Class-balanced e-mails of `groups` as two-turn conversations. */
function conversations(groups, limit) {
  return loadDataset("data/spamassassin/spamassassin.jsonl.gz", {
    format: "chat",
    messages: [
      { role: "system", content: system },
      { role: "user", content: `Subject: {subject}\n{body}\n${question}` },
      { role: "assistant", content: "{label}" },
      { role: "user", content: followUp },
      { role: "assistant", content: "{subject}" },
    ],
    fitField: "body", // long e-mails are shortened to fit maxLength, the answers never
    maxLength: p.maxLength,
    packing: p.packing,
    where: { group: groups },
    balanceBy: "label",
    shuffle: true,
    seed: p.seed,
    limit,
  });
}

const trainSet = conversations(["spam-1", "easy-ham-1", "hard-ham-1"], p.examples);
const testSet = conversations(["spam-2", "easy-ham-2"], p.testExamples);
log(`train: ${trainSet.size} conversations; test: ${testSet.size} held-out conversations`);

const model = getPeftModel(setChatTemplate(loadModel("models/stories260k"), template), {
  method: "lora", r: p.r, loraAlpha: 2 * p.r, loraDropout: 0.05, targetModules: "all-linear",
  modulesToSave: ["embed_tokens"], ensureWeightTying: true,
});
printTrainableParameters(model);

// Two e-mails written for this recipe (not in the data), asked about before and after training.
const emails = [
  "Subject: You have WON a FREE cruise!!!\nClick here now to claim your prize. Limited offer, act today, no cost to you!",
  "Subject: Re: patch for the build script\nThanks, I applied your patch and the nightly build works again. See you at the meeting.",
];
const ask = (email) => [{ role: "system", content: system }, { role: "user", content: `${email}\n${question}` }];
const answers = () => emails.map((email) => chat(model, ask(email), { maxNewTokens: 6 }));

const baseAnswers = disableAdapter(model, answers);
const before = evaluate(model, testSet);
const run = train(model, trainSet, { maxSteps: p.steps, learningRate: p.learningRate, batchSize: p.batchSize, logEvery: 20, warmupRatio: 0.05 });
const after = evaluate(model, testSet);
const tunedAnswers = answers();

table([
  { model: "base stories260k", "assistant-token loss": before.loss, perplexity: before.perplexity, tokens: before.tokens },
  { model: `LoRA r=${p.r}, ${run.steps} steps`, "assistant-token loss": after.loss, perplexity: after.perplexity, tokens: after.tokens },
], { title: `held-out conversations (${testSet.size}, *-2 groups): loss on the assistant's turns` });

table(emails.map((email, i) => ({ email: email.split("\n")[0], before: baseAnswers[i], after: tunedAnswers[i] })),
  { title: `"${question}" answered through chat, before and after` });

const saved = saveAdapter(model, "adapter");
log(`adapter saved in PEFT format with the chat template in ${saved}/tokenizer_config.json`);
