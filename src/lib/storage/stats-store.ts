/**
 * The `stats` store: one row per cache run holding its per-feature statistics (stats-layout.ts) and
 * the options they were computed with. Deleting a run deletes its statistics (cache-store.ts).
 */
import { AppError } from '../errors.ts';
import { storageError, type CacheDatabase } from './cache-store.ts';
import type { FeatureStats, StoredFeatureStats } from './stats-layout.ts';

/** Stores (or replaces) the statistics of run `runId`, which must exist, so that no statistics outlive their cache. */
export async function putFeatureStats(db: CacheDatabase, runId: string, stats: FeatureStats): Promise<StoredFeatureStats> {
  const row: StoredFeatureStats = { ...stats, runId, computedAt: new Date().toISOString() };
  try {
    const tx = db.transaction(['runs', 'stats'], 'readwrite');
    if (!(await tx.objectStore('runs').get(runId))) throw new AppError('cache/not-found', `There is no cache "${runId}" in this browser to store statistics for.`);
    void tx.objectStore('stats').put(row).catch(() => undefined); // a failed put fails tx.done, handled below
    await tx.done;
  } catch (error) {
    storageError(error);
  }
  return row;
}

/** The stored statistics of run `runId`, or undefined when none were computed. */
export const getFeatureStats = (db: CacheDatabase, runId: string): Promise<StoredFeatureStats | undefined> => db.get('stats', runId);

export async function deleteFeatureStats(db: CacheDatabase, runId: string): Promise<void> {
  await db.delete('stats', runId);
}
