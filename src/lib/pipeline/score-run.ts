/**
 * Scoring many features' explanations: each feature's calls run in the pool (at most `concurrency`
 * features at once, a feature's calls one after another). A feature whose calls fail is recorded
 * with its failures and the run goes on; an error after which no call can succeed (a refused key, no
 * credits, a model that cannot do what is asked, the budget spent) stops it: nothing new starts and the
 * summary says why. Cancelling throws AppError `cancelled` after the calls in flight are aborted; their
 * features get no result, so a resumed run does them again.
 *
 * The run's plumbing (pool, meter, progress, hooks, the stop) is `runFeatureStage`, which any stage
 * that makes LLM calls per feature can use; runScores is that stage with scoreFeature as its work.
 */
import { errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import type { FeatureRecord } from '../latents/index.ts';
import { prepareScore, resolveScorer, scoreFailed, scoreFeature, scorerSettings, DEFAULT_SCORE_SEED, type ScorerDefinition, type ScoreResult, type ScoreSettings } from '../scorers/index.ts';
import type { TextTokenizer } from '../types.ts';
import { monotonic, type Progress, type ProgressCallback } from '../util/index.ts';
import { estimateCost, promptTokens, type CostEstimate } from './estimate.ts';
import { runPool, type PoolReport } from './pool.ts';
import { meteredClient, spentCost, UsageMeter, type Budget, type UsageTotals } from './usage.ts';

// ---------------------------------------------------------------------------------------------------
// A run over features, whatever the stage

export interface FeatureStageProgress<S extends string = string> extends Progress {
  stage: S;
  succeeded: number;
  failed: number;
  skipped: number;
  inFlight: number;
  usage: UsageTotals;
}

/** What every per-feature run takes besides its own work. */
export interface FeatureRunControl<R, P extends Progress> {
  client: LlmClient;
  /** Features in flight at most (default 8). */
  concurrency?: number;
  budget?: Budget;
  /** The model's prices, to count calls of endpoints that report no cost against the budget. */
  pricing?: Pricing;
  /** A meter to count into (one that carries a resumed run's totals); a new one from `budget` and `pricing` otherwise. */
  meter?: UsageMeter;
  /** Features in the run, for progress when the items are not an array. */
  total?: number;
  signal?: AbortSignal;
  onProgress?: ProgressCallback<P>;
  /** True for a feature that needs no call (already done). */
  skip?: (feature: number) => boolean | Promise<boolean>;
  /** Every result, awaited before the feature counts as done (store it here). An error thrown here stops the run. */
  onResult?: (result: R) => void | Promise<void>;
}

export interface FeatureStage<I, R, S extends string> {
  stage: S;
  /** "Scored", "Explained": the progress line's first word. */
  verb: string;
  feature(item: I): number;
  /** One feature's work with the metered client; throws only to stop the run (or when cancelled). */
  work(item: I, client: LlmClient, signal: AbortSignal): Promise<R>;
  /** Whether a result counts as failed in the progress and the summary. */
  failed(result: R): boolean;
}

export interface FeatureRunSummary {
  succeeded: number;
  failed: number;
  skipped: number;
  usage: UsageTotals;
  pool: PoolReport;
  /** Why the run ended before every feature was done. */
  stopped?: { code: ErrorCode | 'unknown'; message: string };
}

const thousands = (n: number) => (n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n));

/** "Scored 3 of 20 features (1 failed) · 12.3k tokens · $0.0012" */
export function featureProgressText(verb: string, done: number, total: number | undefined, counts: { failed: number; skipped: number }, usage: UsageTotals): string {
  const extra = [counts.failed && `${counts.failed} failed`, counts.skipped && `${counts.skipped} skipped`].filter(Boolean).join(', ');
  const cost = spentCost(usage) > 0 ? ` · $${spentCost(usage).toFixed(4)}` : '';
  return `${verb} ${done}${total === undefined ? '' : ` of ${total}`} features${extra ? ` (${extra})` : ''} · ${thousands(usage.promptTokens + usage.completionTokens)} tokens${cost}`;
}

export async function runFeatureStage<I, R, S extends string>(items: Iterable<I> | AsyncIterable<I>, stage: FeatureStage<I, R, S>, options: FeatureRunControl<R, FeatureStageProgress<S>>): Promise<FeatureRunSummary> {
  const meter = options.meter ?? new UsageMeter(options.budget, options.pricing);
  const client = meteredClient(options.client, meter);
  const total = options.total ?? (Array.isArray(items) ? items.length : undefined);
  const counts = { succeeded: 0, failed: 0, skipped: 0, inFlight: 0 };
  const report = monotonic(options.onProgress);
  const tell = () => {
    const done = counts.succeeded + counts.failed + counts.skipped;
    report({ stage: stage.stage, done, ...(total !== undefined && { total }), text: featureProgressText(stage.verb, done, total, counts, meter.totals), ...counts, usage: meter.totals });
  };
  tell();
  const pool = await runPool(
    items,
    async (item, signal) => {
      if (await options.skip?.(stage.feature(item))) {
        counts.skipped++;
        tell();
        return;
      }
      counts.inFlight++;
      let result: R;
      try {
        result = await stage.work(item, client, signal);
      } finally {
        counts.inFlight--;
      }
      await options.onResult?.(result);
      if (stage.failed(result)) counts.failed++;
      else counts.succeeded++;
      tell();
    },
    { concurrency: options.concurrency, signal: options.signal, abortOnError: (error) => errorCode(error) !== 'llm/budget' },
  );
  const summary: FeatureRunSummary = { succeeded: counts.succeeded, failed: counts.failed, skipped: counts.skipped, usage: meter.totals, pool };
  if (pool.error !== undefined) {
    if (errorCode(pool.error) === 'cancelled') throw pool.error;
    const done = counts.succeeded + counts.failed + counts.skipped;
    summary.stopped = { code: errorCode(pool.error) ?? 'unknown', message: `The run stopped after ${done}${total === undefined ? '' : ` of ${total}`} features: ${errorMessage(pool.error)}` };
  }
  tell();
  return summary;
}

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
      work: (item, client, signal) => scoreFeature(item.record, item.explanation, { client, model: options.model, tokenizer: options.tokenizer, scorer, settings, seed, signal }),
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
