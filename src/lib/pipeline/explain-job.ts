/**
 * An explain job stored with its cache: created with what it runs (features, model, explainer,
 * settings, budget), run with a client and the key the caller holds through the job runner (as the
 * commands run theirs), and resumable: every result is written as it arrives and every call's usage
 * as it is counted, so a reload or a closed tab loses at most the calls in flight, and a resumed job
 * never asks again about a feature that has an explanation (failed ones are asked again).
 */
import { AppError } from '../errors.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import { explainSettings, resolveExplainer, type ExplainSettings } from '../explainers/index.ts';
import { featureRecord, recordOptions, type CacheReader, type RecordOptions } from '../latents/index.ts';
import { getLlmJob, putLlmJob, type CacheDatabase, type StoredLlmJob } from '../storage/index.ts';
import type { TextTokenizer } from '../types.ts';
import { explainJobStore, storedJobControl, storedJobInputs } from './idb-job-store.ts';
import { planJob, runJob, type JobState } from './job-runner.ts';
import { explainWork } from './job-stages.ts';
import type { ExplainProgress } from './explain-run.ts';
import { DEFAULT_CONCURRENCY } from './pool.ts';
import type { Budget } from './usage.ts';

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
  /** The model's listed context length: longer prompts are refused before they are sent. */
  contextLength?: number;
  signal?: AbortSignal;
  onProgress?: (progress: ExplainProgress) => void;
}

/**
 * Runs (or resumes) a stored job to its end, a stop (key refused, no credits, budget) or a pause (the
 * signal), through the job runner. Returns the job as stored afterwards.
 */
export async function runExplainJob(db: CacheDatabase, jobId: string, deps: ExplainJobDeps): Promise<{ job: StoredLlmJob; state: JobState }> {
  const job = await getLlmJob(db, jobId);
  const options = job.recordOptions as Partial<RecordOptions>;
  const store = explainJobStore(db, jobId);
  const work = explainWork({
    units: job.features.map((feature) => ({ hook: '', feature })),
    inputs: storedJobInputs(job),
    model: job.model,
    tokenizer: deps.tokenizer,
    explainer: job.method,
    settings: job.settings as Partial<ExplainSettings>,
    record: (unit) => featureRecord(deps.reader, unit.feature, options),
  });
  const state = await runJob(store, work, await planJob(store, work), storedJobControl(job, deps));
  return { job: await getLlmJob(db, jobId), state };
}
