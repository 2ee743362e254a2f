/**
 * The job store of the app: a job in IndexedDB (`llmJobs`) and its per-feature results (`llmResults`).
 * Explain results are stored failed or not (the screens show a failure where the explanation would be);
 * a score job's stored result of a feature holds every scorer's result. The usage journal is the job
 * record itself, written as each call is counted (the writes in order, one at a time).
 */
import type { ExplanationResult } from '../explainers/index.ts';
import { scoreFailed, type ScoreResult } from '../scorers/index.ts';
import { getLlmJob, getLlmResult, listLlmResults, putLlmJob, putLlmResult, type CacheDatabase, type StoredLlmJob } from '../storage/index.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import { SerialQueue } from '../util/index.ts';
import type { JobControl, JobInputs, JobLedger, JobProgress, JobState, JobStore, JobUnit, UnitFailure } from './job-runner.ts';
import { addTotals, ZERO_TOTALS, type UsageTotals } from './usage.ts';

/** A feature's stored result in a score job: every scorer's result so far. */
export interface StoredScores {
  feature: number;
  explanation: string;
  scores: Record<string, ScoreResult>;
}

/** What an app job is made from: it fixes its features, model and settings when it is created. */
export const storedJobInputs = (job: StoredLlmJob): JobInputs => ({
  shared: { model: job.model, endpoint: job.baseUrl, method: job.method, settings: JSON.stringify(job.settings), records: JSON.stringify(job.recordOptions) },
  units: {},
});

/** How an app job runs: its budget and concurrency, the caller's client, prices, context length, signal and progress; saved after every result. */
export function storedJobControl(job: StoredLlmJob, deps: { client: LlmClient; pricing?: Pricing; contextLength?: number; signal?: AbortSignal; onProgress?: (progress: never) => void }): JobControl {
  return {
    client: deps.client,
    budget: job.budget,
    ...(deps.pricing && { pricing: deps.pricing }),
    ...(deps.contextLength && { contextLength: deps.contextLength, model: job.model }),
    concurrency: job.concurrency,
    checkpointMs: 0,
    ...(deps.signal && { signal: deps.signal }),
    ...(deps.onProgress && { onProgress: deps.onProgress as (progress: JobProgress) => void }),
  };
}

function idbStore<R>(db: CacheDatabase, jobId: string, parts: Pick<JobStore<R>, 'has' | 'result' | 'put'> & { callFailures(): Promise<UnitFailure[]> }): JobStore<R> {
  const writes = new SerialQueue();
  let usage: UsageTotals | undefined;
  const update = (change: (job: StoredLlmJob) => StoredLlmJob) => writes.run(async () => putLlmJob(db, change(await getLlmJob(db, jobId))));
  return {
    ...parts,
    async ledger(): Promise<JobLedger> {
      const job = await getLlmJob(db, jobId);
      usage = addTotals(ZERO_TOTALS, (job.usage ?? {}) as Partial<UsageTotals> as UsageTotals);
      return { inputs: storedJobInputs(job), usage, runs: job.runs ?? 0, failures: [], callFailures: await parts.callFailures(), modes: job.modes ?? {} };
    },
    journal(added) {
      usage = addTotals(usage ?? ZERO_TOTALS, added);
      const now = { ...usage };
      void update((job) => ({ ...job, usage: { ...now } })).catch(() => undefined); // the end's save says whether storage works
    },
    async save(state: JobState) {
      await update((job) => {
        const { stopped: _before, ...rest } = job;
        const stopped = state.status === 'stopped' && state.stopped ? { stopped: { code: state.stopped.code, message: state.stopped.message } } : {};
        return { ...rest, status: state.status, usage: { ...state.usage }, runs: state.runs, modes: state.modes, ...stopped };
      });
    },
  };
}

export function explainJobStore(db: CacheDatabase, jobId: string): JobStore<ExplanationResult> {
  return idbStore<ExplanationResult>(db, jobId, {
    async has(unit: JobUnit) {
      const stored = await getLlmResult(db, jobId, unit.feature);
      return stored !== undefined && stored.result.failure === undefined;
    },
    async result(unit: JobUnit) {
      return (await getLlmResult(db, jobId, unit.feature))?.result as unknown as ExplanationResult | undefined;
    },
    async put(_unit, result) {
      await putLlmResult(db, jobId, { ...result });
    },
    callFailures: async () => [],
  });
}

export function scoreJobStore(db: CacheDatabase, jobId: string): JobStore<ScoreResult> {
  const writes = new SerialQueue(); // two scorers of one feature finish together: one read-modify-write at a time
  const scoresOf = async (feature: number) => (await getLlmResult(db, jobId, feature))?.result as unknown as StoredScores | undefined;
  return idbStore<ScoreResult>(db, jobId, {
    async has(unit) {
      const result = (await scoresOf(unit.feature))?.scores?.[unit.scorer!];
      return result !== undefined && !scoreFailed(result);
    },
    async result(unit) {
      return (await scoresOf(unit.feature))?.scores?.[unit.scorer!];
    },
    put: (unit, result) =>
      writes.run(async () => {
        const stored = await scoresOf(unit.feature);
        await putLlmResult(db, jobId, { feature: unit.feature, explanation: result.explanation, scores: { ...stored?.scores, [result.scorer]: result } });
      }),
    async callFailures() {
      const stored = (await listLlmResults(db, jobId)).map((s) => s.result as unknown as StoredScores);
      return stored.flatMap((s) =>
        Object.values(s.scores ?? {}).flatMap((r) => (scoreFailed(r) ? [] : r.failures.filter((f) => f.call !== undefined).map((f) => ({ hook: '', feature: s.feature, scorer: r.scorer, ...f })))),
      );
    },
  });
}
