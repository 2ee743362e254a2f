/** What a prompt shows and asks for; each explainer of the registry is one choice of these. */
export interface PromptStyle {
  /** Ask for three steps (tokens, what they share, their context) before the explanation. */
  chainOfThought: boolean;
  /** Show non-activating examples as counterexamples. */
  contrastive: boolean;
  /** After each example, a line listing its marked tokens with their 0..10 values. */
  activationValues: boolean;
}

/** One example as a prompt shows it: token texts, activations (for marking) and 0..10 values (for the values line). */
export interface ShownExample {
  texts: readonly string[];
  activations: readonly number[];
  values: readonly number[];
}
