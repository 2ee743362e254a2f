/**
 * A score job stored with its cache, as an explain job is (explain-job.ts): it scores the explanations
 * of one explain job with one or more scorers, one scorer after another over all features, and stores
 * each feature's scores as they arrive (one stored result per feature, holding every scorer's result),
 * so a reload resumes without asking again about a feature a scorer has done. Usage is counted across
 * sessions against the same budget. `scoreSummary` pools the stored per-example records into metrics.
 */
import { AppError } from '../errors.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import type { ExplainSettings } from '../explainers/index.ts';
import { featureRecord, type CacheReader, type RecordOptions } from '../latents/index.ts';
import { resolveScorer, scorerSettings, type ScoreSettings } from '../scorers/index.ts';
import { getLlmJob, listLlmResults, putLlmJob, type CacheDatabase, type StoredLlmJob } from '../storage/index.ts';
import type { TextTokenizer } from '../types.ts';
import { aggregateScores, type ScoredFeature, type ScorerSummary } from './aggregate.ts';
import { scoreJobStore, storedJobControl, storedJobInputs, type StoredScores } from './idb-job-store.ts';
import { planJob, runJob } from './job-runner.ts';
import { scoreWork } from './job-stages.ts';
import { DEFAULT_CONCURRENCY } from './pool.ts';
import type { ScoreProgress } from './score-run.ts';
import type { Budget } from './usage.ts';

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

export type { StoredScores };

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
  /** The model's listed context length: longer prompts are refused before they are sent. */
  contextLength?: number;
  signal?: AbortSignal;
  onProgress?: (progress: ScoreProgress) => void;
}

/**
 * Runs (or resumes) a stored score job through the job runner: a feature's scorers together, each
 * result stored as it arrives; a resumed job asks again only what failed (features without a
 * prediction, and calls that failed in a way worth asking again). Returns the job as stored afterwards.
 */
export async function runScoreJob(db: CacheDatabase, jobId: string, deps: ScoreJobDeps): Promise<StoredLlmJob> {
  const job = await getLlmJob(db, jobId);
  if (job.stage !== 'score' || !job.sourceJobId) throw new AppError('pipeline/bad-options', `"${jobId}" is not a score run.`);
  // The explain run's own limit on an explanation's length (imported runs have none: the default).
  const maxExplanationChars = ((await getLlmJob(db, job.sourceJobId)).settings as Partial<ExplainSettings>).maxExplanationChars;
  const explanations = new Map((await listLlmResults(db, job.sourceJobId)).flatMap((stored) => (typeof stored.result.explanation === 'string' ? [[stored.feature, stored.result.explanation] as const] : [])));
  const scorers = job.method.split(',');
  const store = scoreJobStore(db, jobId);
  const work = scoreWork({
    units: job.features.filter((feature) => explanations.has(feature)).flatMap((feature) => scorers.map((scorer) => ({ hook: '', feature, scorer }))),
    inputs: storedJobInputs(job),
    model: job.model,
    tokenizer: deps.tokenizer,
    settings: Object.fromEntries(scorers.map((id) => [id, scorerSettings(resolveScorer(id), job.settings as Partial<ScoreSettings>)])),
    ...(maxExplanationChars !== undefined && { maxExplanationChars }),
    read: async (unit) => ({ record: await featureRecord(deps.reader, unit.feature, job.recordOptions as Partial<RecordOptions>), explanation: explanations.get(unit.feature)! }),
  });
  await runJob(store, work, await planJob(store, work), storedJobControl(job, deps));
  return getLlmJob(db, jobId);
}

export interface ScoreSummaryOptions {
  /** How often a feature fires (non-zeros): weighs the F1s. */
  firing?: (feature: number) => number;
  /** The share of tokens a feature fires on, for plots of score against density. */
  density?: (feature: number) => number;
}

/** Every stored feature's records pooled scorer by scorer (the aggregation metrics.json uses too). */
export async function scoreSummary(db: CacheDatabase, jobId: string, options: ScoreSummaryOptions = {}): Promise<ScorerSummary[]> {
  const job = await getLlmJob(db, jobId);
  const stored = (await listLlmResults(db, jobId)).map((s) => s.result as unknown as StoredScores);
  const scorers = job.method.split(',');
  const scored = stored.flatMap((s) => scorers.flatMap((scorer): ScoredFeature[] => {
    const r = s.scores?.[scorer];
    if (!r) return [];
    return r.kind === 'classifier' ? [{ hook: '', feature: r.feature, scorer, kind: 'classifier', examples: r.examples }] : [{ hook: '', feature: r.feature, scorer, kind: 'simulation', examples: r.examples }];
  }));
  const { firing, density } = options;
  return aggregateScores(scored, { scorers, ...(firing && { weight: (f) => firing(f.feature) }), ...(density && { density: (f) => density(f.feature) }) });
}
