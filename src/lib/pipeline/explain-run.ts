/**
 * Explaining many features: `runFeatureStage` (feature-stage.ts: the pool, the meter, progress, the
 * storing hooks, a stop on fatal errors) with one explainer call per feature as its work. A feature
 * whose call fails or whose answer cannot be read is recorded as a failure and the run goes on.
 */
import type { LlmClient, Pricing } from '../clients/index.ts';
import { explainFeature, explainSettings, resolveExplainer, type ExplainerDefinition, type ExplainSettings, type ExplanationResult } from '../explainers/index.ts';
import type { FeatureRecord } from '../latents/index.ts';
import type { TextTokenizer } from '../types.ts';
import type { ProgressCallback } from '../util/index.ts';
import { runFeatureStage, type FeatureRunSummary, type FeatureStageProgress } from './feature-stage.ts';
import type { Budget, UsageMeter } from './usage.ts';

export type ExplainProgress = FeatureStageProgress<'explain'>;

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

export interface ExplainRunSummary extends FeatureRunSummary {
  explainer: string;
  model: string;
  settings: ExplainSettings;
}

export async function runExplanations(records: Iterable<FeatureRecord> | AsyncIterable<FeatureRecord>, options: ExplainRunOptions): Promise<ExplainRunSummary> {
  const explainer = resolveExplainer(options.explainer);
  const settings = explainSettings(options.settings);
  const summary = await runFeatureStage(
    records,
    {
      stage: 'explain',
      verb: 'Explained',
      feature: (record) => record.feature,
      work: (record, client, signal) => explainFeature(record, { client, model: options.model, tokenizer: options.tokenizer, explainer, settings, signal }),
      failed: (result) => result.failure !== undefined,
    },
    options,
  );
  return { explainer: explainer.id, model: options.model, settings, ...summary };
}
