/**
 * What a run will cost, before it runs: features x (prompt tokens x the prompt price + answer tokens x
 * the completion price). Prompt tokens are counted on the prompts the run would send (built for the
 * records given, a sample or all of them), a token per four characters unless a counter is given
 * (the model's own tokenizer, when at hand); answer tokens are the explainer's typical answer.
 */
import { approxTokens, type ChatMessage, type Pricing } from '../clients/index.ts';
import { explainSettings, resolveExplainer, type ExplainerDefinition, type ExplainSettings } from '../explainers/index.ts';
import type { FeatureRecord } from '../latents/index.ts';
import type { TextTokenizer } from '../types.ts';

/** Tokens a chat prompt takes: its messages' texts plus a few per message for the chat template. */
export function promptTokens(messages: readonly ChatMessage[], count: (text: string) => number = approxTokens): number {
  return messages.reduce((sum, message) => sum + count(message.content) + 4, 0);
}

export interface CostEstimate {
  features: number;
  promptTokens: number;
  completionTokens: number;
  /** Dollars; undefined without prices. */
  cost?: number;
}

export function estimateCost(features: number, promptPerFeature: number, completionPerFeature: number, pricing?: Pricing): CostEstimate {
  const estimate: CostEstimate = { features, promptTokens: Math.round(features * promptPerFeature), completionTokens: Math.round(features * completionPerFeature) };
  if (pricing) estimate.cost = estimate.promptTokens * pricing.prompt + estimate.completionTokens * pricing.completion;
  return estimate;
}

export interface ExplainEstimateOptions {
  tokenizer: TextTokenizer;
  explainer?: string | ExplainerDefinition;
  settings?: Partial<ExplainSettings>;
  pricing?: Pricing;
  /** Features the run will explain, when `records` is a sample of them (default: records.length). */
  features?: number;
  count?: (text: string) => number;
}

/** The cost of explaining `features` features, from the prompts of `records`. */
export function estimateExplainCost(records: readonly FeatureRecord[], options: ExplainEstimateOptions): CostEstimate {
  const explainer = resolveExplainer(options.explainer);
  const settings = explainSettings(options.settings);
  const asked = records.filter((record) => record.train.length > 0);
  const total = asked.reduce((sum, record) => sum + promptTokens(explainer.messages(record, options.tokenizer, settings), options.count), 0);
  const perFeature = asked.length > 0 ? total / asked.length : 0;
  return estimateCost(options.features ?? records.length, perFeature, asked.length > 0 ? explainer.answerTokens : 0, options.pricing);
}
