/**
 * A run over features, whatever the stage (explain, score): each feature's work runs in the pool (at
 * most `concurrency` features at once). A feature whose work fails is recorded and the run goes on; an
 * error after which no call can succeed (a refused key, no credits, a model that cannot do what is
 * asked, the budget spent) stops it: nothing new starts and the summary says why. Cancelling throws
 * AppError `cancelled` after the calls in flight are aborted; their features get no result, so a
 * resumed run does them again. Hooks for whoever stores results: `skip(feature)` leaves out features
 * already done, `onResult` receives every result before the feature counts as done.
 */
import { errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import { monotonic, type Progress, type ProgressCallback } from '../util/index.ts';
import { runPool, type PoolReport } from './pool.ts';
import { meteredClient, spentCost, UsageMeter, type Budget, type UsageTotals } from './usage.ts';

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

/** "Scored 3 of 20 features (1 failed) · 12.3k tokens · $0.0012"; `noun` what is counted ("scores" when a feature has several). */
export function featureProgressText(verb: string, done: number, total: number | undefined, counts: { failed: number; skipped: number }, usage: UsageTotals, noun = 'features'): string {
  const extra = [counts.failed && `${counts.failed} failed`, counts.skipped && `${counts.skipped} skipped`].filter(Boolean).join(', ');
  const cost = spentCost(usage) > 0 ? ` · $${spentCost(usage).toFixed(4)}` : '';
  return `${verb} ${done}${total === undefined ? '' : ` of ${total}`} ${noun}${extra ? ` (${extra})` : ''} · ${thousands(usage.promptTokens + usage.completionTokens)} tokens${cost}`;
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
