/**
 * Explanations and scores as plain data, shaped like delphi's files, so that they can be written to
 * and read from delphi's layout without knowing the explainers or scorers that made them (those rank
 * above the latents stage and convert to these types themselves).
 */

/**
 * One scored example, delphi's `ClassifierOutput` (delphi/scorers/classifier/sample.py) as it is
 * written to `scores/<scorer>/<hook>_latent<f>.txt`, key for key and in this order.
 */
export interface DelphiScoreExample {
  /** The example's tokens as text. */
  str_tokens: string[];
  /** The feature's activation at each token. */
  activations: number[];
  /** The activating example's quantile (1, 2, ...); -1 for a random non-activating one (delphi writes a neighbour's distance there). */
  distance: number;
  /** Whether the example activates the feature (the truth). */
  activating: boolean;
  /** What the scorer predicted: 1 activating, 0 not (delphi writes what the LLM answered, 0/1 or a boolean); null when the answer could not be parsed. */
  prediction: number | null;
  /** P(activating) from the LLM's log-probabilities; null without them. */
  probability: number | null;
  /** prediction == activating; null when there is no prediction. */
  correct: boolean | null;
}

/** A feature's explanation and its scores. */
export interface FeatureResults {
  /** delphi's module path, e.g. `layers.6` or `blocks.6.hook_resid_pre`. */
  hook: string;
  /** The feature (latent) index. */
  feature: number;
  explanation?: string;
  /** Per scorer (delphi's folder name under scores/, e.g. `detection`, `fuzz`), the scored examples. */
  scores: Record<string, DelphiScoreExample[]>;
}

/** One file of delphi's results layout. */
export interface ResultsFile {
  /** `[<prefix>/]explanations/<hook>_latent<f>.txt` or `[<prefix>/]scores/<scorer>/<hook>_latent<f>.txt`. */
  path: string;
  bytes: Uint8Array<ArrayBuffer>;
}
