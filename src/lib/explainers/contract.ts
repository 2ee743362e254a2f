/**
 * The explainer contract: an explainer turns a feature record into chat messages and reads the
 * explanation back out of the answer. Settings are plain data with defaults; a result is a plain,
 * serialisable object (stored and resumed by the caller) that holds an explanation or a failure, never both.
 */
import { AppError } from '../errors.ts';
import type { ChatMessage, CompletionRequest, Failure, Usage } from '../clients/index.ts';
import type { FeatureRecord } from '../latents/index.ts';
import type { TextTokenizer } from '../types.ts';
import { DEFAULT_MARK_THRESHOLD } from '../latents/index.ts';
import type { ParsedExplanation } from './parse.ts';

export interface ExplainSettings {
  /** Tokens above this fraction of their example's max activation are marked (delphi: 0.3). */
  threshold: number;
  /** After each example, a line with its marked tokens and their 0..10 values. */
  activationValues: boolean;
  /** Train examples shown, strongest quantile first; all of the record's when undefined. */
  maxExamples?: number;
  /** Non-activating examples shown as counterexamples (contrastive explainers). */
  maxCounterexamples: number;
  temperature: number;
  /** The answer's token cap; the explainer's own when undefined. */
  maxTokens?: number;
  /** For reasoning models (`{effort: 'none'}` keeps the whole budget for the answer). */
  reasoning?: CompletionRequest['reasoning'];
  /** Characters an explanation may have; a longer one is the feature's failure (MAX_EXPLANATION_CHARS when undefined). */
  maxExplanationChars?: number;
}

export const DEFAULT_EXPLAIN_SETTINGS: Readonly<ExplainSettings> = Object.freeze({
  threshold: DEFAULT_MARK_THRESHOLD,
  activationValues: false,
  maxCounterexamples: 10,
  temperature: 0,
});

/** The defaults with `partial` over them, checked. */
export function explainSettings(partial: Partial<ExplainSettings> = {}): ExplainSettings {
  const settings: ExplainSettings = { ...DEFAULT_EXPLAIN_SETTINGS, ...partial };
  const bad = (what: string) => new AppError('explain/bad-settings', `Explainer settings: ${what}.`);
  if (!(settings.threshold >= 0 && settings.threshold < 1)) throw bad(`the marking threshold must be from 0 to below 1 (got ${settings.threshold})`);
  if (settings.maxExamples !== undefined && !(Number.isInteger(settings.maxExamples) && settings.maxExamples >= 1)) throw bad(`the number of examples must be a whole number from 1 (got ${settings.maxExamples})`);
  if (!(Number.isInteger(settings.maxCounterexamples) && settings.maxCounterexamples >= 0)) throw bad(`the number of counterexamples must be a whole number from 0 (got ${settings.maxCounterexamples})`);
  if (!(settings.temperature >= 0 && settings.temperature <= 2)) throw bad(`the temperature must be from 0 to 2 (got ${settings.temperature})`);
  if (settings.maxExplanationChars !== undefined && !(Number.isInteger(settings.maxExplanationChars) && settings.maxExplanationChars >= 1)) throw bad(`the longest explanation must be a whole number of characters from 1 (got ${settings.maxExplanationChars})`);
  if (settings.maxTokens !== undefined && !(Number.isInteger(settings.maxTokens) && settings.maxTokens >= 16)) throw bad(`max tokens must be a whole number from 16 (some providers refuse less; got ${settings.maxTokens})`);
  return settings;
}

export interface ExplainerDefinition {
  /** Registry key, stored in results: 'default', 'chain-of-thought', ... */
  id: string;
  label: string;
  /** Other names the commands take for it (`cot`). */
  aliases?: readonly string[];
  description: string;
  /** About how many tokens an answer takes (cost estimates). */
  answerTokens: number;
  /** max_tokens when the settings leave it open. */
  maxTokens: number;
  messages(record: FeatureRecord, tokenizer: TextTokenizer, settings: ExplainSettings): ChatMessage[];
  /** The explanation in an answer to `messages(record, ...)`, or why there is none. */
  parse(text: string, record: FeatureRecord, tokenizer: TextTokenizer, settings: ExplainSettings): ParsedExplanation;
}

/** One feature's outcome: exactly one of `explanation` and `failure`. */
export interface ExplanationResult {
  feature: number;
  hook: string;
  /** The explainer's id. */
  explainer: string;
  model: string;
  settings: ExplainSettings;
  explanation?: string;
  failure?: Failure;
  /** What the feature's call consumed (its retries included). */
  usage: Usage;
  /** The answer as the model wrote it, when one came (also for parse failures and cut answers). */
  raw?: string;
  /** HTTP attempts the call took (0 when no call was made). */
  attempts: number;
}
