/**
 * Explaining many features: each feature's call runs in the pool (at most `concurrency` at once). A
 * feature that fails is recorded as a failure and the run goes on; an error after which no call can
 * succeed (a refused key, no credits, a model that cannot do what is asked, the budget spent) stops it:
 * nothing new starts and the summary says why. Cancelling throws AppError `cancelled` after the calls
 * in flight are aborted; their features get no result, so a resumed run does them again.
 *
 * Hooks for whoever stores results: `skip(feature)` leaves out features already done, `onResult`
 * receives every result (a plain serialisable object) before the feature counts as done.
 */
import { errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import { explainFeature, explainSettings, resolveExplainer, type ExplainerDefinition, type ExplainSettings, type ExplanationResult } from '../explainers/index.ts';
import type { FeatureRecord } from '../latents/index.ts';
import type { TextTokenizer } from '../types.ts';
import { monotonic, type Progress, type ProgressCallback } from '../util/index.ts';
import { runPool, type PoolReport } from './pool.ts';
import { meteredClient, spentCost, UsageMeter, type Budget, type UsageTotals } from './usage.ts';

export interface ExplainProgress extends Progress {
  stage: 'explain';
  succeeded: number;
  failed: number;
  skipped: number;
  inFlight: number;
  usage: UsageTotals;
}

export interface ExplainRunOptions {
  client: LlmClient;
  model: string;
  tokenizer: TextTokenizer;
  explainer?: string | ExplainerDefinition;
  settings?: Partial<ExplainSettings>;
  /** Calls in flight at most (default 8). */
  concurrency?: number;
  budget?: Budget;
  /** The model's prices, to count calls of endpoints that report no cost against the budget. */
  pricing?: Pricing;
  /** A meter to count into (one that carries a resumed run's totals); a new one from `budget` and `pricing` otherwise. */
  meter?: UsageMeter;
  /** Features in the run, for progress when `records` is not an array. */
  total?: number;
  signal?: AbortSignal;
  onProgress?: ProgressCallback<ExplainProgress>;
  /** True for a feature that needs no call (already explained). */
  skip?: (feature: number) => boolean | Promise<boolean>;
  /** Every result, awaited before the feature counts as done (store it here). An error thrown here stops the run. */
  onResult?: (result: ExplanationResult) => void | Promise<void>;
}

export interface ExplainRunSummary {
  explainer: string;
  model: string;
  settings: ExplainSettings;
  succeeded: number;
  failed: number;
  skipped: number;
  usage: UsageTotals;
  pool: PoolReport;
  /** Why the run ended before every feature was done. */
  stopped?: { code: ErrorCode | 'unknown'; message: string };
}

const thousands = (n: number) => (n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n));

function progressText(done: number, total: number | undefined, counts: { failed: number; skipped: number }, usage: UsageTotals): string {
  const extra = [counts.failed && `${counts.failed} failed`, counts.skipped && `${counts.skipped} skipped`].filter(Boolean).join(', ');
  const cost = spentCost(usage) > 0 ? ` · $${spentCost(usage).toFixed(4)}` : '';
  return `Explained ${done}${total === undefined ? '' : ` of ${total}`} features${extra ? ` (${extra})` : ''} · ${thousands(usage.promptTokens + usage.completionTokens)} tokens${cost}`;
}

export async function runExplanations(records: Iterable<FeatureRecord> | AsyncIterable<FeatureRecord>, options: ExplainRunOptions): Promise<ExplainRunSummary> {
  const explainer = resolveExplainer(options.explainer);
  const settings = explainSettings(options.settings);
  const meter = options.meter ?? new UsageMeter(options.budget, options.pricing);
  const client = meteredClient(options.client, meter);
  const total = options.total ?? (Array.isArray(records) ? records.length : undefined);
  const counts = { succeeded: 0, failed: 0, skipped: 0, inFlight: 0 };
  const report = monotonic(options.onProgress);
  const tell = () => {
    const done = counts.succeeded + counts.failed + counts.skipped;
    report({ stage: 'explain', done, ...(total !== undefined && { total }), text: progressText(done, total, counts, meter.totals), ...counts, usage: meter.totals });
  };
  tell();
  const pool = await runPool(
    records,
    async (record, signal) => {
      if (await options.skip?.(record.feature)) {
        counts.skipped++;
        tell();
        return;
      }
      counts.inFlight++;
      let result: ExplanationResult;
      try {
        result = await explainFeature(record, { client, model: options.model, tokenizer: options.tokenizer, explainer, settings, signal });
      } finally {
        counts.inFlight--;
      }
      await options.onResult?.(result);
      if (result.failure) counts.failed++;
      else counts.succeeded++;
      tell();
    },
    { concurrency: options.concurrency, signal: options.signal, abortOnError: (error) => errorCode(error) !== 'llm/budget' },
  );
  const summary: ExplainRunSummary = { explainer: explainer.id, model: options.model, settings, succeeded: counts.succeeded, failed: counts.failed, skipped: counts.skipped, usage: meter.totals, pool };
  if (pool.error !== undefined) {
    if (errorCode(pool.error) === 'cancelled') throw pool.error;
    const done = counts.succeeded + counts.failed + counts.skipped;
    summary.stopped = { code: errorCode(pool.error) ?? 'unknown', message: `The run stopped after ${done}${total === undefined ? '' : ` of ${total}`} features: ${errorMessage(pool.error)}` };
  }
  tell();
  return summary;
}
