/**
 * Explainers that differ only in their prompt's style (chain of thought, counterexamples) share this:
 * the record's train examples strongest quantile first (at most `maxExamples`), its non-activating
 * examples as counterexamples where the style shows them, and the shared parser.
 */
import type { Example, FeatureRecord } from '../latents/index.ts';
import type { TextTokenizer } from '../types.ts';
import type { ExplainerDefinition, ExplainSettings } from './contract.ts';
import { tokenTexts } from '../latents/index.ts';
import { parseExplanation } from './parse.ts';
import { explainMessages, type PromptStyle, type ShownExample } from './prompts/index.ts';

/** The train examples a prompt shows: strongest quantile first (stable within a quantile), capped. */
export function shownExamples(record: FeatureRecord, settings: ExplainSettings): Example[] {
  const sorted = record.train.map((example, i) => ({ example, i })).sort((a, b) => a.example.quantile - b.example.quantile || a.i - b.i);
  return sorted.slice(0, settings.maxExamples ?? sorted.length).map(({ example }) => example);
}

export const shownCounterexamples = (record: FeatureRecord, settings: ExplainSettings): Example[] => record.non_activating.slice(0, settings.maxCounterexamples);

const shown = (example: Example, tokenizer: TextTokenizer): ShownExample => ({ texts: tokenTexts(example.tokens, tokenizer), activations: example.activations, values: example.normalized });

export interface PromptExplainerSpec extends Omit<ExplainerDefinition, 'messages' | 'parse'> {
  style: Omit<PromptStyle, 'activationValues'>;
}

export function promptExplainer(spec: PromptExplainerSpec): ExplainerDefinition {
  const { style, ...definition } = spec;
  const counterexamples = (record: FeatureRecord, tokenizer: TextTokenizer, settings: ExplainSettings) =>
    style.contrastive ? shownCounterexamples(record, settings).map((example) => tokenTexts(example.tokens, tokenizer)) : [];
  return {
    ...definition,
    messages(record, tokenizer, settings) {
      const examples = shownExamples(record, settings).map((example) => shown(example, tokenizer));
      return explainMessages({ ...style, activationValues: settings.activationValues }, examples, counterexamples(record, tokenizer, settings), settings.threshold);
    },
    parse(text, record, tokenizer, settings) {
      const texts = [...shownExamples(record, settings).map((example) => tokenTexts(example.tokens, tokenizer)), ...counterexamples(record, tokenizer, settings)];
      return parseExplanation(text, texts.map((t) => t.join('')));
    },
  };
}
