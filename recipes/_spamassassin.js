// The bundled SpamAssassin corpus as a classification-by-generation dataset: the model reads the
// Subject line and the start of the body and answers "spam" or "ham". The *-1 groups train; the
// *-2 groups (collected later, half spam) test.
import { loadDataset } from "peft";

export const trainGroups = ["spam-1", "easy-ham-1", "hard-ham-1"];
export const testGroups = ["spam-2", "easy-ham-2"];

/** Class-balanced, shuffled e-mails from `groups`, at most `limit`, each at most `maxLength` tokens. */
export function emails(groups, limit, maxLength) {
  return loadDataset("data/spamassassin/spamassassin.jsonl.gz", {
    format: "classification",
    template: "Subject: {subject}\n{body}\nAnswer:",
    fitField: "body",
    labels: { spam: "spam", ham: "ham" },
    maxLength,
    where: { group: groups },
    balanceBy: "label",
    shuffle: true,
    limit,
  });
}
