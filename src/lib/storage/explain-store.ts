/**
 * The `explainJobs` and `explanations` stores: an explain job over one cache (what it runs with, how
 * far it got, what it spent) and each feature's result as it arrives, so a job resumes after a reload
 * without paying for a finished feature twice. The API key is never part of either (it is passed to
 * each run and kept by the page). The shapes of settings and results belong to the stages above;
 * here they are plain stored data.
 */
import { AppError } from '../errors.ts';
import { storageError, type CacheDatabase } from './cache-store.ts';
import type { StoredExplainJob, StoredExplanation } from './explain-layout.ts';

export async function putExplainJob(db: CacheDatabase, job: StoredExplainJob): Promise<StoredExplainJob> {
  try {
    await db.put('explainJobs', job);
  } catch (error) {
    storageError(error);
  }
  return job;
}

export async function getExplainJob(db: CacheDatabase, id: string): Promise<StoredExplainJob> {
  const job = await db.get('explainJobs', id);
  if (!job) throw new AppError('cache/not-found', `There is no explain run "${id}" in this browser.`);
  return job;
}

export async function listExplainJobs(db: CacheDatabase, cacheRunId?: string): Promise<StoredExplainJob[]> {
  const all = await db.getAll('explainJobs');
  return all.filter((job) => cacheRunId === undefined || job.cacheRunId === cacheRunId).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function putExplanation(db: CacheDatabase, jobId: string, result: StoredExplanation['result']): Promise<void> {
  try {
    await db.put('explanations', { jobId, feature: result.feature, result });
  } catch (error) {
    storageError(error);
  }
}

/** The job's results so far, by feature. */
export async function listExplanations(db: CacheDatabase, jobId: string): Promise<StoredExplanation[]> {
  return db.getAll('explanations', IDBKeyRange.bound([jobId, 0], [jobId, Infinity]));
}

export async function deleteExplainJob(db: CacheDatabase, id: string): Promise<void> {
  const tx = db.transaction(['explainJobs', 'explanations'], 'readwrite');
  await tx.objectStore('explanations').delete(IDBKeyRange.bound([id, 0], [id, Infinity]));
  await tx.objectStore('explainJobs').delete(id);
  await tx.done;
}
