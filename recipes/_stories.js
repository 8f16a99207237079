// Shared by the per-method recipes: a few short stories in the model's own domain, split into
// training and held-out stories, so each method's effect shows as a held-out loss change.
import { loadDataset } from "peft";

export const stories = [
  "Sparky the dragon lived in a big cave. Sparky liked to fly over the town and wave to the kids.",
  "One day Sparky the dragon found a red ball. Sparky gave the ball to a little girl named Lily.",
  "Sparky the dragon was sad because it was raining. Then the sun came out and Sparky was happy.",
  "Sparky the dragon and Tim played in the park. They ran and laughed until it was time for bed.",
  "Sparky the dragon baked a cake for his mom. The cake was big and sweet and his mom loved it.",
  "Sparky the dragon saw a small bird in the tree. Sparky helped the bird fly back to its nest.",
  "Sparky the dragon liked to read books. His favorite book was about a brave little boat.",
  "Sparky the dragon went to the sea with Ben. They built a sand castle and swam in the water.",
];

/** The stories as a causal-LM dataset, split 6 / 2 with a fixed seed. */
export function storySplits() {
  const data = loadDataset(stories.map((text) => ({ text })), { format: "text", maxLength: 48 });
  return data.split(0.25, { seed: 7 });
}
