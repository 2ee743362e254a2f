/**
 * An explain job stored with its cache: created with what it runs (features, model, explainer,
 * settings, budget), run with a client and the key the caller holds, and resumable: every result is
 * written as it arrives together with the usage so far, so a reload or a closed tab loses at most the
 * calls in flight, and a resumed job never asks again about a feature that has a result.
 */
import { AppError, errorCode } from '../errors.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import { explainSettings, resolveExplainer, type ExplainSettings, type ExplanationResult } from '../explainers/index.ts';
import { featureRecord, recordOptions, type CacheReader, type FeatureRecord, type RecordOptions } from '../latents/index.ts';
import { getLlmJob, listLlmResults, putLlmJob, putLlmResult, type CacheDatabase, type StoredLlmJob } from '../storage/index.ts';
import type { TextTokenizer } from '../types.ts';
import { DEFAULT_CONCURRENCY } from './pool.ts';
import { runExplanations, type ExplainProgress, type ExplainRunSummary } from './explain-run.ts';
import { UsageMeter, type Budget, type UsageTotals } from './usage.ts';

export interface ExplainJobRequest {
  cacheRunId: string;
  baseUrl: string;
  model: string;
  explainer?: string;
  settings?: Partial<ExplainSettings>;
  recordOptions?: Partial<RecordOptions>;
  features: readonly number[];
  concurrency?: number;
  budget?: Budget;
}

export async function createExplainJob(db: CacheDatabase, request: ExplainJobRequest, cache: { ctx: number; prependBos: boolean }): Promise<StoredLlmJob> {
  const explainer = resolveExplainer(request.explainer);
  const settings = explainSettings(request.settings);
  const options = recordOptions(request.recordOptions ?? {}, cache); // checked now, not at the first feature
  const concurrency = request.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new AppError('pipeline/bad-options', `Concurrency must be a whole number from 1 (got ${concurrency}).`);
  if (request.features.length === 0) throw new AppError('pipeline/bad-options', 'There are no features to explain: lower "min examples" or choose features.');
  if (!request.model.trim()) throw new AppError('pipeline/bad-options', 'Choose a model to explain with.');
  return putLlmJob(db, {
    stage: 'explain',
    id: `explain-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    cacheRunId: request.cacheRunId,
    createdAt: new Date().toISOString(),
    baseUrl: request.baseUrl,
    model: request.model.trim(),
    method: explainer.id,
    settings: { ...settings },
    recordOptions: { ...options },
    budget: { ...request.budget },
    concurrency,
    features: [...request.features],
    status: 'ready',
  });
}

export interface ExplainJobDeps {
  reader: CacheReader;
  client: LlmClient;
  tokenizer: TextTokenizer;
  pricing?: Pricing;
  signal?: AbortSignal;
  onProgress?: (progress: ExplainProgress) => void;
}

/**
 * Runs (or resumes) a stored job to its end, a stop (key refused, no credits, budget) or a pause (the
 * signal). Returns the job as stored afterwards.
 */
export async function runExplainJob(db: CacheDatabase, jobId: string, deps: ExplainJobDeps): Promise<{ job: StoredLlmJob; summary?: ExplainRunSummary }> {
  let job = await getLlmJob(db, jobId);
  const done = new Set((await listLlmResults(db, jobId)).map((stored) => stored.feature));
  const remaining = job.features.filter((feature) => !done.has(feature));
  const meter = new UsageMeter(job.budget, deps.pricing, job.usage as UsageTotals | undefined);
  job = await putLlmJob(db, { ...job, status: 'running' });
  const { stopped: _previousStop, ...rest } = job;
  job = rest;
  const options = job.recordOptions as Partial<RecordOptions>;
  async function* records(): AsyncGenerator<FeatureRecord> {
    for (const feature of remaining) yield await featureRecord(deps.reader, feature, options);
  }
  const previous = done.size;
  let summary: ExplainRunSummary | undefined;
  try {
    summary = await runExplanations(records(), {
      client: deps.client,
      model: job.model,
      tokenizer: deps.tokenizer,
      explainer: job.method,
      settings: job.settings as Partial<ExplainSettings>,
      concurrency: job.concurrency,
      meter,
      total: remaining.length,
      ...(deps.signal ? { signal: deps.signal } : {}),
      // Counts over the whole job, the features done before this session included.
      onProgress: (progress) => deps.onProgress?.({ ...progress, done: progress.done + previous, total: job.features.length, text: progress.text.replace(/^Explained \d+ of \d+/, `Explained ${progress.done + previous} of ${job.features.length}`) }),
      onResult: async (result: ExplanationResult) => {
        await putLlmResult(db, jobId, { ...result });
        job = await putLlmJob(db, { ...job, usage: { ...meter.totals } });
      },
    });
  } catch (error) {
    job = await putLlmJob(db, { ...job, status: errorCode(error) === 'cancelled' ? 'paused' : 'stopped', usage: { ...meter.totals }, ...(errorCode(error) === 'cancelled' ? {} : { stopped: { code: errorCode(error) ?? 'unknown', message: (error as Error).message } }) });
    if (errorCode(error) === 'cancelled') return { job };
    throw error;
  }
  job = await putLlmJob(db, { ...job, status: summary.stopped ? 'stopped' : 'done', usage: { ...meter.totals }, ...(summary.stopped ? { stopped: summary.stopped } : {}) });
  return { job, summary };
}
