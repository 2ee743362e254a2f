/**
 * Scoring many features' explanations: each feature's calls run in the pool (at most `concurrency`
 * features at once, a feature's calls one after another). A feature whose calls fail is recorded
 * with its failures and the run goes on; an error after which no call can succeed (a refused key, no
 * credits, a model that cannot do what is asked, the budget spent) stops it: nothing new starts and the
 * summary says why. Cancelling throws AppError `cancelled` after the calls in flight are aborted; their
 * features get no result, so a resumed run does them again.
 *
 * The run's plumbing (pool, meter, progress, hooks, the stop) is `runFeatureStage` (feature-stage.ts);
 * runScores is that stage with scoreFeature as its work.
 */
import type { Pricing } from '../clients/index.ts';
import type { FeatureRecord } from '../latents/index.ts';
import { prepareScore, resolveScorer, scoreFailed, scoreFeature, scorerSettings, DEFAULT_SCORE_SEED, type ScorerDefinition, type ScoreResult, type ScoreSettings } from '../scorers/index.ts';
import type { TextTokenizer } from '../types.ts';
import { estimateCost, promptTokens, type CostEstimate } from './estimate.ts';
import { runFeatureStage, type FeatureRunControl, type FeatureRunSummary, type FeatureStageProgress } from './feature-stage.ts';

// ---------------------------------------------------------------------------------------------------
// Scoring

/** A feature to score: its record and the explanation to score it against. */
export interface ScoreItem {
  record: FeatureRecord;
  explanation: string;
}

export type ScoreProgress = FeatureStageProgress<'score'>;

export interface ScoreRunOptions extends FeatureRunControl<ScoreResult, ScoreProgress> {
  model: string;
  tokenizer: TextTokenizer;
  /** An id of the registry or a definition; 'detection' when undefined. */
  scorer?: string | ScorerDefinition;
  settings?: Partial<ScoreSettings>;
  /** Seeds each feature's sample order and fuzzing marks, with the feature (default 22). */
  seed?: number;
  /** Longer explanations are refused, not sent (MAX_EXPLANATION_CHARS when undefined). */
  maxExplanationChars?: number;
}

export interface ScoreRunSummary extends FeatureRunSummary {
  scorer: string;
  model: string;
  settings: ScoreSettings;
  seed: number;
}

/**
 * Scores every item's explanation. A result counts as failed when it has no prediction at all (nothing
 * to ask, or every call failed); results with some failed calls count as done, their failures listed.
 */
export async function runScores(items: Iterable<ScoreItem> | AsyncIterable<ScoreItem>, options: ScoreRunOptions): Promise<ScoreRunSummary> {
  const scorer = resolveScorer(options.scorer);
  const settings = scorerSettings(scorer, options.settings);
  const seed = options.seed ?? DEFAULT_SCORE_SEED;
  const summary = await runFeatureStage(
    items,
    {
      stage: 'score',
      verb: 'Scored',
      feature: (item) => item.record.feature,
      work: (item, client, signal) => scoreFeature(item.record, item.explanation, { client, model: options.model, tokenizer: options.tokenizer, scorer, settings, seed, signal, ...(options.maxExplanationChars !== undefined && { maxExplanationChars: options.maxExplanationChars }) }),
      failed: scoreFailed,
    },
    options,
  );
  return { scorer: scorer.id, model: options.model, settings, seed, ...summary };
}

export interface ScoreEstimateOptions {
  tokenizer: TextTokenizer;
  scorer?: string | ScorerDefinition;
  settings?: Partial<ScoreSettings>;
  seed?: number;
  pricing?: Pricing;
  /** Features the run will score, when `items` is a sample of them (default: items.length). */
  features?: number;
  count?: (text: string) => number;
}

/** Prompt and answer tokens per feature of scoring `items` (the calls it would make), and the calls. */
export function scorePromptTokens(item: ScoreItem, options: ScoreEstimateOptions): { calls: number; promptTokens: number; answerTokens: number } {
  const scorer = resolveScorer(options.scorer);
  const settings = scorerSettings(scorer, options.settings);
  const prepared = prepareScore(item.record, item.explanation, scorer, options.tokenizer, settings, options.seed ?? DEFAULT_SCORE_SEED);
  if ('failure' in prepared) return { calls: 0, promptTokens: 0, answerTokens: 0 };
  const { calls } = prepared.task;
  return {
    calls: calls.length,
    promptTokens: calls.reduce((sum, call) => sum + promptTokens(call.messages, options.count), 0),
    answerTokens: calls.reduce((sum, call) => sum + call.answerTokens, 0),
  };
}

/** The cost of scoring `features` features, from the prompts of `items`. */
export function estimateScoreCost(items: readonly ScoreItem[], options: ScoreEstimateOptions): CostEstimate {
  const counted = items.map((item) => scorePromptTokens(item, options)).filter((t) => t.calls > 0);
  const mean = (key: 'promptTokens' | 'answerTokens') => (counted.length > 0 ? counted.reduce((sum, t) => sum + t[key], 0) / counted.length : 0);
  return estimateCost(options.features ?? items.length, mean('promptTokens'), mean('answerTokens'), options.pricing);
}
