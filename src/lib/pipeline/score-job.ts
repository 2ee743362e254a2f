/**
 * A score job stored with its cache, as an explain job is (explain-job.ts): it scores the explanations
 * of one explain job with one or more scorers, one scorer after another over all features, and stores
 * each feature's scores as they arrive (one stored result per feature, holding every scorer's result),
 * so a reload resumes without asking again about a feature a scorer has done. Usage is counted across
 * sessions against the same budget. `scoreSummary` pools the stored per-example records into metrics.
 */
import { AppError, errorCode } from '../errors.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import type { ExplainSettings } from '../explainers/index.ts';
import { featureRecord, type CacheReader, type RecordOptions } from '../latents/index.ts';
import { frequencyWeightedF1, pooledClassificationMetrics, rocCurve, simulationMetrics, type ClassificationMetrics, type RocPoint, type SimulationMetrics } from '../metrics/index.ts';
import { resolveScorer, scorerSettings, type ScoreResult, type ScoreSettings } from '../scorers/index.ts';
import { getLlmJob, getLlmResult, listLlmResults, putLlmJob, putLlmResult, type CacheDatabase, type StoredLlmJob } from '../storage/index.ts';
import type { TextTokenizer } from '../types.ts';
import { DEFAULT_CONCURRENCY } from './pool.ts';
import { runScores, type ScoreItem, type ScoreProgress } from './score-run.ts';
import { UsageMeter, type Budget, type UsageTotals } from './usage.ts';

export interface ScoreJobRequest {
  cacheRunId: string;
  /** The explain job whose explanations are scored. */
  explainJobId: string;
  baseUrl: string;
  model: string;
  scorers: readonly string[];
  settings?: Partial<ScoreSettings>;
  concurrency?: number;
  budget?: Budget;
}

/** A feature's stored result in a score job: every scorer's result so far. */
export interface StoredScores {
  feature: number;
  explanation: string;
  scores: Record<string, ScoreResult>;
}

export async function createScoreJob(db: CacheDatabase, request: ScoreJobRequest): Promise<StoredLlmJob> {
  const source = await getLlmJob(db, request.explainJobId);
  if (source.stage !== 'explain') throw new AppError('pipeline/bad-options', 'Scores are of an explain run\'s explanations: choose an explain run.');
  if (request.scorers.length === 0) throw new AppError('pipeline/bad-options', 'Choose at least one scorer.');
  const scorers = request.scorers.map((id) => resolveScorer(id).id);
  for (const id of scorers) scorerSettings(resolveScorer(id), request.settings); // checked now, not at the first feature
  const explained = (await listLlmResults(db, source.id)).filter((stored) => typeof stored.result.explanation === 'string').map((stored) => stored.feature);
  if (explained.length === 0) throw new AppError('pipeline/bad-options', 'That explain run has no explanations yet to score.');
  const concurrency = request.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new AppError('pipeline/bad-options', `Concurrency must be a whole number from 1 (got ${concurrency}).`);
  if (!request.model.trim()) throw new AppError('pipeline/bad-options', 'Choose a model to score with.');
  return putLlmJob(db, {
    id: `score-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    stage: 'score',
    cacheRunId: request.cacheRunId,
    sourceJobId: source.id,
    createdAt: new Date().toISOString(),
    baseUrl: request.baseUrl,
    model: request.model.trim(),
    method: scorers.join(','),
    settings: { ...request.settings },
    recordOptions: { ...source.recordOptions },
    budget: { ...request.budget },
    concurrency,
    features: explained,
    status: 'ready',
  });
}

export interface ScoreJobDeps {
  reader: CacheReader;
  client: LlmClient;
  tokenizer: TextTokenizer;
  pricing?: Pricing;
  signal?: AbortSignal;
  onProgress?: (progress: ScoreProgress) => void;
}

export async function runScoreJob(db: CacheDatabase, jobId: string, deps: ScoreJobDeps): Promise<StoredLlmJob> {
  let job = await getLlmJob(db, jobId);
  if (job.stage !== 'score' || !job.sourceJobId) throw new AppError('pipeline/bad-options', `"${jobId}" is not a score run.`);
  // The explain run's own limit on an explanation's length (imported runs have none: the default).
  const maxExplanationChars = ((await getLlmJob(db, job.sourceJobId)).settings as Partial<ExplainSettings>).maxExplanationChars;
  const explanations = new Map((await listLlmResults(db, job.sourceJobId)).flatMap((stored) => (typeof stored.result.explanation === 'string' ? [[stored.feature, stored.result.explanation] as const] : [])));
  const meter = new UsageMeter(job.budget, deps.pricing, job.usage as UsageTotals | undefined);
  const { stopped: _previous, ...rest } = job;
  job = await putLlmJob(db, { ...rest, status: 'running' });
  const scorers = job.method.split(',');
  const total = job.features.length * scorers.length;
  let before = 0;
  try {
    for (const scorer of scorers) {
      const done = new Set((await listLlmResults(db, jobId)).filter((stored) => (stored.result as unknown as StoredScores).scores?.[scorer]).map((stored) => stored.feature));
      const remaining = job.features.filter((feature) => !done.has(feature) && explanations.has(feature));
      const previous = before + done.size;
      async function* items(): AsyncGenerator<ScoreItem> {
        for (const feature of remaining) yield { record: await featureRecord(deps.reader, feature, job.recordOptions as Partial<RecordOptions>), explanation: explanations.get(feature)! };
      }
      const summary = await runScores(items(), {
        client: deps.client,
        model: job.model,
        tokenizer: deps.tokenizer,
        scorer,
        settings: job.settings as Partial<ScoreSettings>,
        ...(maxExplanationChars !== undefined && { maxExplanationChars }),
        concurrency: job.concurrency,
        meter,
        total: remaining.length,
        ...(deps.signal ? { signal: deps.signal } : {}),
        onProgress: (progress) => deps.onProgress?.({ ...progress, done: progress.done + previous, total, text: `${scorer}: ${progress.text.replace(/^Scored \d+ of \d+/, `scored ${progress.done + previous} of ${total}`)}` }),
        onResult: async (result: ScoreResult) => {
          const stored = (await getLlmResult(db, jobId, result.feature))?.result as unknown as StoredScores | undefined;
          const scores = { ...stored?.scores, [scorer]: result };
          await putLlmResult(db, jobId, { feature: result.feature, explanation: result.explanation, scores });
          job = await putLlmJob(db, { ...job, usage: { ...meter.totals } });
        },
      });
      before += job.features.length;
      if (summary.stopped) return (job = await putLlmJob(db, { ...job, status: 'stopped', stopped: summary.stopped, usage: { ...meter.totals } }));
    }
  } catch (error) {
    const cancelled = errorCode(error) === 'cancelled';
    job = await putLlmJob(db, { ...job, status: cancelled ? 'paused' : 'stopped', usage: { ...meter.totals }, ...(cancelled ? {} : { stopped: { code: errorCode(error) ?? 'unknown', message: (error as Error).message } }) });
    if (cancelled) return job;
    throw error;
  }
  return (job = await putLlmJob(db, { ...job, status: 'done', usage: { ...meter.totals } }));
}

/** Metrics of one scorer over a job's stored results: pooled over features, and per feature. */
export interface ScorerSummary {
  scorer: string;
  kind: 'classifier' | 'simulation';
  features: number;
  pooled: ClassificationMetrics | SimulationMetrics;
  /** Per-feature F1 weighted by how often each feature fires (classifiers only). */
  frequencyWeightedF1?: number | null;
  /** The pooled ROC curve of the probabilities (classifiers; empty without probabilities). */
  roc?: RocPoint[];
  /** Each feature's metrics, and its density (share of tokens it fires on) when known. */
  perFeature: { feature: number; metrics: ClassificationMetrics | SimulationMetrics; density?: number }[];
}

export interface ScoreSummaryOptions {
  /** How often a feature fires (non-zeros): weighs the F1s. */
  firing?: (feature: number) => number;
  /** The share of tokens a feature fires on, for plots of score against density. */
  density?: (feature: number) => number;
}

/** Pools the per-example records of every stored feature, scorer by scorer. */
export async function scoreSummary(db: CacheDatabase, jobId: string, options: ScoreSummaryOptions = {}): Promise<ScorerSummary[]> {
  const { firing, density } = options;
  const job = await getLlmJob(db, jobId);
  const stored = (await listLlmResults(db, jobId)).map((s) => s.result as unknown as StoredScores);
  return job.method.split(',').map((scorer): ScorerSummary => {
    const results = stored.flatMap((s) => (s.scores?.[scorer] ? [s.scores[scorer]] : []));
    const perFeature = results.map((r) => ({ feature: r.feature, metrics: r.metrics, ...(density ? { density: density(r.feature) } : {}) }));
    if (resolveScorer(scorer).kind === 'simulation') {
      const sequences = results.flatMap((r) => (r.kind === 'simulation' ? r.examples.map((e) => ({ activations: e.activations, predicted: e.predicted, distance: e.distance })) : []));
      return { scorer, kind: 'simulation', features: results.length, pooled: simulationMetrics(sequences), perFeature };
    }
    const samples = results.map((r) => (r.kind === 'classifier' ? r.examples : []));
    const weighted = firing ? frequencyWeightedF1(results.map((r) => ({ f1: (r.metrics as ClassificationMetrics).f1, weight: firing(r.feature) }))) : undefined;
    const roc = rocCurve(samples.flat().filter((e) => e.prediction !== null).map((e) => ({ activating: e.activating, score: e.probability })));
    return { scorer, kind: 'classifier', features: results.length, pooled: pooledClassificationMetrics(samples), ...(weighted !== undefined ? { frequencyWeightedF1: weighted } : {}), roc, perFeature };
  });
}
