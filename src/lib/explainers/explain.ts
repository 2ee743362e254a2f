/**
 * One feature explained: the explainer's messages to the model, the answer parsed. A call that failed
 * or an answer without a readable explanation becomes a result with a failure; errors after which no
 * later call can succeed (a refused key, no credits, the run's budget spent) and cancellation are
 * thrown instead, for the run to stop on.
 */
import { errorCode, errorMessage } from '../errors.ts';
import { LlmError, llmFailure, stopsRun, ZERO_USAGE, type LlmClient } from '../clients/index.ts';
import { MAX_EXPLANATION_CHARS, type FeatureRecord } from '../latents/index.ts';
import type { TextTokenizer } from '../types.ts';
import { explainSettings, type ExplainerDefinition, type ExplainSettings, type ExplanationResult } from './contract.ts';
import { explainerById } from './registry.ts';

export interface ExplainOptions {
  client: LlmClient;
  model: string;
  tokenizer: TextTokenizer;
  /** An id of the registry or a definition; 'default' when undefined. */
  explainer?: string | ExplainerDefinition;
  settings?: Partial<ExplainSettings>;
  signal?: AbortSignal;
}

export const resolveExplainer = (explainer: string | ExplainerDefinition | undefined): ExplainerDefinition =>
  typeof explainer === 'object' ? explainer : explainerById(explainer ?? 'default');

export async function explainFeature(record: FeatureRecord, options: ExplainOptions): Promise<ExplanationResult> {
  const explainer = resolveExplainer(options.explainer);
  const settings = explainSettings(options.settings);
  const base = { feature: record.feature, hook: record.hook, explainer: explainer.id, model: options.model, settings };
  if (record.train.length === 0) {
    return { ...base, failure: { kind: 'input', code: 'explanation/no-examples', message: `Feature ${record.feature} has no activating examples to explain.` }, usage: { ...ZERO_USAGE }, attempts: 0 };
  }
  let messages;
  try {
    messages = explainer.messages(record, options.tokenizer, settings);
  } catch (error) {
    return { ...base, failure: { kind: 'input', code: errorCode(error) ?? 'explanation/bad-input', message: errorMessage(error) }, usage: { ...ZERO_USAGE }, attempts: 0 };
  }
  let completion;
  try {
    completion = await options.client.complete(
      { model: options.model, messages, temperature: settings.temperature, maxTokens: settings.maxTokens ?? explainer.maxTokens, ...(settings.reasoning && { reasoning: settings.reasoning }) },
      options.signal,
    );
  } catch (error) {
    if (stopsRun(error) || errorCode(error) === 'cancelled') throw error;
    const details = error instanceof LlmError ? error : undefined;
    const result: ExplanationResult = { ...base, failure: llmFailure(error), usage: details?.usage ?? { ...ZERO_USAGE }, attempts: details?.attempts ?? 1 };
    if (details?.text) result.raw = details.text;
    return result;
  }
  const parsed = explainer.parse(completion.text, record, options.tokenizer, settings);
  const result: ExplanationResult = { ...base, usage: completion.usage, raw: completion.text, attempts: completion.attempts };
  const most = settings.maxExplanationChars ?? MAX_EXPLANATION_CHARS;
  if (parsed.ok && parsed.explanation.length > most) {
    result.failure = { kind: 'parse', code: 'explanation/too-long', message: `The explanation of feature ${record.feature} has ${parsed.explanation.length.toLocaleString('en-US')} characters; at most ${most.toLocaleString('en-US')} are taken as one (a setting of the run).` };
  } else if (parsed.ok) result.explanation = parsed.explanation;
  else result.failure = parsed.failure;
  return result;
}
