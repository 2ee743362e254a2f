/**
 * What the explain and score jobs of a cache say, gathered for the screens: one column per scorer over
 * every feature (the features table sorts and filters by them), a feature's explanations and scores
 * with every per-example judgement (its page), and the per-feature rows of a CSV export.
 */
import type { ScoresCsvRow } from '../latents/index.ts';
import type { ClassificationMetrics, SimulationMetrics } from '../metrics/index.ts';
import { resolveScorer, type ScoreResult } from '../scorers/index.ts';
import { getLlmResult, listLlmJobs, listLlmResults, type CacheDatabase } from '../storage/index.ts';
import type { StoredScores } from './score-job.ts';

/** The number a table shows for a scorer: delphi's accuracy (balanced) for classifiers, the pooled Pearson correlation for simulation. */
export type HeadlineMetric = 'balanced_accuracy' | 'pearson';

export const headlineMetric = (scorer: string): HeadlineMetric => (resolveScorer(scorer).kind === 'simulation' ? 'pearson' : 'balanced_accuracy');

/** A scorer's headline number of one result; NaN when it is undefined. */
export function headlineScore(result: Pick<ScoreResult, 'kind' | 'metrics'>): number {
  const value = result.kind === 'simulation' ? (result.metrics as SimulationMetrics).pearson : (result.metrics as ClassificationMetrics).balanced_accuracy;
  return value ?? Number.NaN;
}

export interface FeatureScoreColumns {
  runId: string;
  /**
   * One column per scorer, in the registry's order: each feature's newest score by that scorer, NaN
   * where it has none or it is undefined (`scored` tells which).
   */
  scores: { scorer: string; metric: HeadlineMetric; values: Float32Array; scored: Uint8Array }[];
  /** The newest explanation of each explained feature. */
  explanations: Record<number, string>;
}

/** Every feature's newest explanation and newest score per scorer, over the cache's jobs (oldest first, so newer ones win). */
export async function featureScoreColumns(db: CacheDatabase, runId: string, width: number): Promise<FeatureScoreColumns> {
  const explanations: Record<number, string> = {};
  for (const job of await listLlmJobs(db, { cacheRunId: runId, stage: 'explain' })) {
    for (const { feature, result } of await listLlmResults(db, job.id)) if (typeof result.explanation === 'string' && feature < width) explanations[feature] = result.explanation;
  }
  const columns = new Map<string, FeatureScoreColumns['scores'][number]>();
  for (const job of await listLlmJobs(db, { cacheRunId: runId, stage: 'score' })) {
    for (const stored of await listLlmResults(db, job.id)) {
      if (stored.feature >= width) continue;
      for (const [scorer, result] of Object.entries((stored.result as unknown as StoredScores).scores ?? {})) {
        let column = columns.get(scorer);
        if (!column) columns.set(scorer, (column = { scorer, metric: headlineMetric(scorer), values: new Float32Array(width).fill(Number.NaN), scored: new Uint8Array(width) }));
        column.values[stored.feature] = headlineScore(result);
        column.scored[stored.feature] = 1;
      }
    }
  }
  const order = (scorer: string) => ['detection', 'fuzzing', 'simulation'].indexOf(scorer) >>> 0;
  return { runId, scores: [...columns.values()].sort((a, b) => order(a.scorer) - order(b.scorer) || a.scorer.localeCompare(b.scorer)), explanations };
}

/** A feature's explanation by one explain job, or why there is none. */
export interface FeatureExplanation {
  jobId: string;
  model: string;
  method: string;
  explanation?: string;
  failure?: string;
}

/** One score job's results for a feature: each scorer's, with its per-example judgements and raw answers. */
export interface FeatureScores {
  jobId: string;
  createdAt: string;
  model: string;
  explanation: string;
  results: ScoreResult[];
}

/** What every explain job and every score job of the cache said about `feature`, oldest first. */
export async function featureResults(db: CacheDatabase, runId: string, feature: number): Promise<{ explanations: FeatureExplanation[]; scores: FeatureScores[] }> {
  const explanations: FeatureExplanation[] = [];
  for (const job of await listLlmJobs(db, { cacheRunId: runId, stage: 'explain' })) {
    const stored = await getLlmResult(db, job.id, feature);
    if (!stored) continue;
    const { explanation, failure } = stored.result;
    explanations.push({ jobId: job.id, model: job.model, method: job.method, ...(typeof explanation === 'string' ? { explanation } : {}), ...(failure ? { failure: failure.message } : {}) });
  }
  const scores: FeatureScores[] = [];
  for (const job of await listLlmJobs(db, { cacheRunId: runId, stage: 'score' })) {
    const stored = (await getLlmResult(db, job.id, feature))?.result as unknown as StoredScores | undefined;
    if (!stored?.scores) continue;
    const results = job.method.split(',').flatMap((scorer) => (stored.scores[scorer] ? [stored.scores[scorer]] : []));
    if (results.length) scores.push({ jobId: job.id, createdAt: job.createdAt, model: job.model, explanation: stored.explanation, results });
  }
  return { explanations, scores };
}

/** The metrics a CSV row carries per scorer. */
const CSV_METRICS = { classifier: ['balanced_accuracy', 'precision', 'recall', 'f1', 'auc', 'failed'], simulation: ['pearson', 'per_sequence_mean', 'failed'] } as const;

/** One CSV row per feature of a score job: its explanation and each scorer's metrics (`npm run score`'s metrics.json keys). */
export async function scoreCsvRows(db: CacheDatabase, jobId: string, hook: string): Promise<ScoresCsvRow[]> {
  return (await listLlmResults(db, jobId)).map(({ feature, result }) => {
    const stored = result as unknown as StoredScores;
    const metrics: ScoresCsvRow['metrics'] = {};
    for (const [scorer, score] of Object.entries(stored.scores ?? {})) {
      const all = score.metrics as unknown as Record<string, number | null>;
      metrics[scorer] = Object.fromEntries(CSV_METRICS[score.kind].map((key) => [key, all[key] ?? null]));
    }
    return { hook, feature, ...(stored.explanation ? { explanation: stored.explanation } : {}), metrics };
  }).sort((a, b) => a.feature - b.feature);
}
