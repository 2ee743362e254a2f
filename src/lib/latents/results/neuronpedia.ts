/**
 * Neuronpedia's upload shape, one object per feature:
 *   { modelId, source, index, density, explanations: [{ text, method, explainer_model }], activations: [{ tokens, values }] }
 * `source` is Neuronpedia's name for an SAE at a layer (e.g. `6-res-jb`), `index` the feature as a
 * decimal string (Neuronpedia keys features by modelId, source and a string index), `density` the
 * fraction of tokens on which the feature fires.
 */
import { AppError } from '../../errors.ts';
import { checkFeature } from './layout.ts';
import type { FeatureResults } from './types.ts';

export interface NeuronpediaExplanation {
  text: string;
  /** How the explanation was made, e.g. `delphi-default` or `oai_token-act-pair`. */
  method: string;
  explainer_model: string;
}

export interface NeuronpediaActivation {
  tokens: string[];
  values: number[];
}

export interface NeuronpediaFeature {
  modelId: string;
  source: string;
  index: string;
  density: number;
  explanations: NeuronpediaExplanation[];
  activations: NeuronpediaActivation[];
}

export interface NeuronpediaOptions {
  /** Neuronpedia's model id, e.g. `gpt2-small`. */
  modelId: string;
  /** Neuronpedia's source (SAE at a layer), e.g. `6-res-jb`. */
  source: string;
  /** Fraction of tokens the feature fires on, in [0, 1]. */
  density: number;
  /** The LLM that wrote the explanation. */
  explainerModel: string;
  method: string;
  /** The feature's strongest examples, strongest first: each window's tokens and the activation at each. */
  topExamples: readonly { tokens: readonly string[]; values: readonly number[] }[];
}

/**
 * A feature in Neuronpedia's upload shape. A feature without an explanation gets an empty
 * `explanations` list. Throws results/bad-input for a density outside [0, 1], an example whose
 * tokens and values differ in length, or a value that is not a finite number.
 */
export function toNeuronpedia(feature: Pick<FeatureResults, 'hook' | 'feature' | 'explanation'>, options: NeuronpediaOptions): NeuronpediaFeature {
  checkFeature(feature.feature, feature.hook);
  const where = `${feature.hook} feature ${feature.feature}`;
  for (const key of ['modelId', 'source'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') throw new AppError('results/bad-input', `Neuronpedia needs a ${key} (e.g. ${key === 'modelId' ? 'gpt2-small' : '6-res-jb'}) for ${where}.`);
  }
  if (!Number.isFinite(options.density) || options.density < 0 || options.density > 1) {
    throw new AppError('results/bad-input', `The density of ${where} is ${options.density}; Neuronpedia wants the fraction of tokens it fires on, between 0 and 1.`);
  }
  const activations = options.topExamples.map((example, i) => {
    if (example.tokens.length !== example.values.length) {
      throw new AppError('results/bad-input', `Example ${i} of ${where} has ${example.tokens.length} tokens but ${example.values.length} values; Neuronpedia wants one value per token.`);
    }
    const bad = example.values.findIndex((value) => typeof value !== 'number' || !Number.isFinite(value));
    if (bad >= 0) throw new AppError('results/bad-input', `Example ${i} of ${where} has value ${String(example.values[bad])} at token ${bad}; values must be finite numbers.`);
    return { tokens: [...example.tokens], values: [...example.values] };
  });
  const explanations = feature.explanation === undefined ? [] : [{ text: feature.explanation, method: options.method, explainer_model: options.explainerModel }];
  return { modelId: options.modelId, source: options.source, index: String(feature.feature), density: options.density, explanations, activations };
}

/** Many features as one JSON array (the file to upload). */
export function neuronpediaJson(features: readonly NeuronpediaFeature[]): string {
  return JSON.stringify(features);
}
