/**
 * The `llmJobs` and `llmResults` stores: a job over one cache (what it runs with, how far it got, what
 * it spent) and each feature's result as it arrives, so a job resumes after a reload without paying
 * for a finished feature twice. The API key is never part of either (it is passed to each run and kept
 * by the page).
 */
import { AppError } from '../errors.ts';
import { storageError, type CacheDatabase } from './cache-store.ts';
import type { LlmStage, StoredLlmJob, StoredLlmResult } from './llm-jobs-layout.ts';

export async function putLlmJob(db: CacheDatabase, job: StoredLlmJob): Promise<StoredLlmJob> {
  try {
    await db.put('llmJobs', job);
  } catch (error) {
    storageError(error);
  }
  return job;
}

export async function getLlmJob(db: CacheDatabase, id: string): Promise<StoredLlmJob> {
  const job = await db.get('llmJobs', id);
  if (!job) throw new AppError('cache/not-found', `There is no run "${id}" in this browser.`);
  return job;
}

/** Jobs, oldest first: of one cache and one stage when given. */
export async function listLlmJobs(db: CacheDatabase, filter: { cacheRunId?: string; stage?: LlmStage } = {}): Promise<StoredLlmJob[]> {
  const all = await db.getAll('llmJobs');
  return all
    .filter((job) => (filter.cacheRunId === undefined || job.cacheRunId === filter.cacheRunId) && (filter.stage === undefined || job.stage === filter.stage))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function putLlmResult(db: CacheDatabase, jobId: string, result: StoredLlmResult['result']): Promise<void> {
  try {
    await db.put('llmResults', { jobId, feature: result.feature, result });
  } catch (error) {
    storageError(error);
  }
}

/** One feature's result in a job, or undefined when it has none (yet). */
export async function getLlmResult(db: CacheDatabase, jobId: string, feature: number): Promise<StoredLlmResult | undefined> {
  return db.get('llmResults', [jobId, feature]);
}

/** The job's results so far, by feature. */
export async function listLlmResults(db: CacheDatabase, jobId: string): Promise<StoredLlmResult[]> {
  return db.getAll('llmResults', IDBKeyRange.bound([jobId, 0], [jobId, Infinity]));
}

export async function deleteLlmJob(db: CacheDatabase, id: string): Promise<void> {
  const tx = db.transaction(['llmJobs', 'llmResults'], 'readwrite');
  await tx.objectStore('llmResults').delete(IDBKeyRange.bound([id, 0], [id, Infinity]));
  await tx.objectStore('llmJobs').delete(id);
  await tx.done;
}
