/**
 * The activation cache in IndexedDB. A run's token matrix is written once when the run is created, so
 * a resumed run encodes exactly the same rows; each chunk's shard records and the run's progress are
 * written in one transaction, so after a crash, a closed tab or a full disk the cache holds whole
 * chunks only and resumes at the first missing one. A pause stores the encoded rows of the chunk in
 * hand as a part (merged into the chunk's records, also in one transaction), and resume goes on after it.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { AppError, type ErrorCode } from '../errors.ts';
import { float16BitsToFloat32 } from '../formats/index.ts';
import { sha256Hex } from '../util/index.ts';
import { chunkRowsFor, featureInShard, mergeShardRecords, recordBytes, SHARD_FEATURES, type ShardRecord } from './cache-layout.ts';
import type { StoredLlmJob, StoredLlmResult } from './llm-jobs-layout.ts';
import type { StoredFeatureStats } from './stats-layout.ts';

export interface CacheSettings {
  model: { repo: string; revision: string; hubUrl: string };
  sae: {
    label: string; fingerprint: string; width: number; hookName: string; architecture: string; k?: number;
    /** encodingKey() of the spec it was made with (settings the user chose included); absent for imports. */
    encoding?: string;
  };
  /** What the rows were made from, for the user and for reproducibility. */
  dataset: {
    description: string; seed: number; ctx: number; maxTokens: number; prependBos: boolean;
    /** Where the documents came from as delphi's config.json names it (absent for token rows given directly). */
    source?: { repo: string; split: string; name: string; column: string };
  };
}

export type CacheStatus = 'ready' | 'running' | 'paused' | 'done' | 'failed';

export interface CacheRun {
  id: string;
  createdAt: string;
  settings: CacheSettings;
  nRows: number;
  ctx: number;
  width: number;
  chunkRows: number;
  nChunks: number;
  /** Chunks 0..chunksDone-1 are stored; resuming starts at chunksDone. */
  chunksDone: number;
  /**
   * Rows of chunk `chunksDone` already stored (a part a pause kept), so resuming starts at that row.
   * 0 when none; absent (also 0) on runs stored before parts existed.
   */
  partialRows?: number;
  /** Stored non-zero activations. */
  nnz: number;
  /** Bytes of stored payloads (token matrix, counts, positions, values). */
  bytes: number;
  status: CacheStatus;
  /** Why the run stopped, for the user (status 'failed'). */
  error?: string;
  errorCode?: ErrorCode;
}

interface CacheDb extends DBSchema {
  runs: { key: string; value: CacheRun };
  /** [runId, chunk] -> the chunk's token ids, row-major (Uint16Array when the vocabulary fits). */
  tokens: { key: [string, number]; value: Uint16Array | Uint32Array };
  /** [runId, shard, chunk] -> that shard's activations in that chunk. */
  shards: { key: [string, number, number]; value: ShardRecord };
  /** runId -> the run's per-feature statistics (stats-store.ts). Added in version 2. */
  stats: { key: string; value: StoredFeatureStats };
  /** jobId -> an explain or score job over a cache (llm-jobs-store.ts). Added in version 3. */
  llmJobs: { key: string; value: StoredLlmJob };
  /** [jobId, feature] -> that feature's result in the job. Added in version 3. */
  llmResults: { key: [string, number]; value: StoredLlmResult };
}

export type CacheDatabase = IDBPDatabase<CacheDb>;

export const CACHE_DB_NAME = 'autointerp-cache';

/** Versioned upgrades: each step adds what its version brought, so existing caches are kept. */
export function openCacheDb(name = CACHE_DB_NAME): Promise<CacheDatabase> {
  return openDB<CacheDb>(name, 3, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('runs', { keyPath: 'id' });
        db.createObjectStore('tokens');
        db.createObjectStore('shards');
      }
      if (oldVersion < 2) db.createObjectStore('stats', { keyPath: 'runId' });
      if (oldVersion < 3) {
        db.createObjectStore('llmJobs', { keyPath: 'id' });
        db.createObjectStore('llmResults', { keyPath: ['jobId', 'feature'] });
      }
    },
  });
}

/** Turns the browser's quota error into one that says what happened and that nothing was lost. */
export function storageError(error: unknown): never {
  if (error instanceof AppError) throw error;
  const name = (error as { name?: string } | null)?.name;
  if (name === 'QuotaExceededError' || /quota/i.test(String((error as Error | null)?.message))) {
    throw new AppError('storage/quota', 'The browser ran out of storage for this site while saving the cache. Everything saved so far is intact: free space (delete old caches below, or disk space) and resume the run.');
  }
  // IndexedDB failures can arrive as DOMExceptions or bare events with no message: say what failed.
  throw new AppError('storage/failed', `Saving to the browser's storage failed (${name ?? 'unknown error'}${(error as Error | null)?.message ? `: ${(error as Error).message}` : ''}). What was saved before is intact; try again.`);
}

/** `chunkRows` (optional) makes chunks smaller than the largest allowed, for finer-grained resumes. */
export async function createRun(db: CacheDatabase, id: string, settings: CacheSettings, tokens: Uint32Array, vocabSize: number, chunkRows = chunkRowsFor(settings.dataset.ctx)): Promise<CacheRun> {
  const ctx = settings.dataset.ctx;
  const nRows = tokens.length / ctx;
  if (!Number.isInteger(nRows) || nRows === 0) throw new AppError('cache/bad-input', `The token matrix (${tokens.length} tokens) is not a whole number of rows of ${ctx}.`);
  const outside = tokens.findIndex((id) => id >= vocabSize);
  if (outside >= 0) throw new AppError('cache/bad-input', `Token ${outside} of the matrix is id ${tokens[outside]}, outside the model's vocabulary of ${vocabSize}: the rows were made for another tokenizer.`);
  chunkRows = Math.max(1, Math.min(chunkRows, chunkRowsFor(ctx)));
  const nChunks = Math.ceil(nRows / chunkRows);
  const narrow = vocabSize <= 65536;
  const run: CacheRun = {
    id, createdAt: new Date().toISOString(), settings, nRows, ctx, width: settings.sae.width, chunkRows, nChunks,
    chunksDone: 0, partialRows: 0, nnz: 0, bytes: tokens.length * (narrow ? 2 : 4), status: 'ready',
  };
  try {
    const tx = db.transaction(['runs', 'tokens'], 'readwrite');
    for (let chunk = 0; chunk < nChunks; chunk++) {
      const part = tokens.subarray(chunk * chunkRows * ctx, Math.min(nRows, (chunk + 1) * chunkRows) * ctx);
      void tx.objectStore('tokens').put(narrow ? Uint16Array.from(part) : part.slice(), [id, chunk]).catch(() => undefined);
    }
    void tx.objectStore('runs').put(run).catch(() => undefined);
    await tx.done;
  } catch (error) {
    storageError(error);
  }
  return run;
}

/** Tokens whose activations are stored: whole chunks and the stored part of the next one. */
export const storedTokens = (run: CacheRun): number => Math.min(run.nRows, run.chunksDone * run.chunkRows + (run.partialRows ?? 0)) * run.ctx;

/** Rows of chunk `chunk` (the last one can be short). */
export const rowsInChunk = (run: CacheRun, chunk: number): number => Math.max(0, Math.min(run.chunkRows, run.nRows - chunk * run.chunkRows));

export async function getRun(db: CacheDatabase, id: string): Promise<CacheRun> {
  const run = await db.get('runs', id);
  if (!run) throw new AppError('cache/not-found', `There is no cache "${id}" in this browser.`);
  return run;
}

export const listRuns = (db: CacheDatabase): Promise<CacheRun[]> => db.getAll('runs');

export async function updateRun(db: CacheDatabase, id: string, change: Partial<Pick<CacheRun, 'status' | 'error' | 'errorCode'>>): Promise<CacheRun> {
  try {
    const tx = db.transaction('runs', 'readwrite');
    const run = await tx.store.get(id);
    if (!run) throw new AppError('cache/not-found', `There is no cache "${id}" in this browser.`);
    const updated = { ...run, ...change };
    for (const key of ['error', 'errorCode'] as const) if (key in change && change[key] === undefined) delete updated[key];
    void tx.store.put(updated).catch(() => undefined); // a failed put fails tx.done, handled below
    await tx.done;
    return updated;
  } catch (error) {
    return storageError(error);
  }
}

export async function deleteRun(db: CacheDatabase, id: string): Promise<void> {
  const tx = db.transaction(['runs', 'tokens', 'shards', 'stats', 'llmJobs', 'llmResults'], 'readwrite');
  // Explanations and scores are of this cache's features: they go with it.
  for (const job of await tx.objectStore('llmJobs').getAll()) {
    if (job.cacheRunId !== id) continue;
    await tx.objectStore('llmResults').delete(IDBKeyRange.bound([job.id, 0], [job.id, Infinity]));
    await tx.objectStore('llmJobs').delete(job.id);
  }
  await tx.objectStore('tokens').delete(IDBKeyRange.bound([id, 0], [id, Infinity]));
  await tx.objectStore('shards').delete(IDBKeyRange.bound([id, 0, 0], [id, Infinity, Infinity]));
  await tx.objectStore('stats').delete(id);
  await tx.objectStore('runs').delete(id);
  await tx.done;
}

export async function readChunkTokens(db: CacheDatabase, run: CacheRun, chunk: number): Promise<Uint32Array> {
  const tokens = await db.get('tokens', [run.id, chunk]);
  if (!tokens) throw new AppError('cache/not-found', `Cache "${run.id}" has no tokens for chunk ${chunk}: it is damaged; delete it and run again.`);
  return tokens instanceof Uint32Array ? tokens : Uint32Array.from(tokens);
}

/**
 * Stores chunk `chunk`, or a part of it (`part`: `rows` rows from row `firstRow` of the chunk, with
 * chunk-relative token positions), and advances the run's progress in one transaction. Only what comes
 * next is accepted (the next chunk, from the row after its stored part), so nothing can be skipped or
 * stored twice. A part is merged into the chunk's stored records; the part that completes the chunk
 * advances `chunksDone`, any other one `partialRows`.
 */
export async function writeChunk(db: CacheDatabase, runId: string, chunk: number, records: ShardRecord[], part?: { firstRow: number; rows: number }): Promise<CacheRun> {
  try {
    const tx = db.transaction(['runs', 'shards'], 'readwrite');
    const run = await tx.objectStore('runs').get(runId);
    if (!run) throw new AppError('cache/not-found', `There is no cache "${runId}" in this browser.`);
    if (chunk !== run.chunksDone) throw new AppError('cache/bad-input', `Chunk ${chunk} arrived but the cache expects chunk ${run.chunksDone}.`);
    const stored = run.partialRows ?? 0;
    const { firstRow, rows } = part ?? { firstRow: 0, rows: rowsInChunk(run, chunk) };
    if (firstRow !== stored || rows < 1 || firstRow + rows > rowsInChunk(run, chunk)) {
      throw new AppError('cache/bad-input', `Rows ${firstRow} to ${firstRow + rows - 1} of chunk ${chunk} arrived but the cache expects ${rowsInChunk(run, chunk) - stored} rows from row ${stored}.`);
    }
    // The stored part's records, read and merged before anything is written, so a refused merge writes nothing.
    const before = stored ? await Promise.all(records.map((record) => tx.objectStore('shards').get([runId, record.shard, chunk]))) : [];
    const merged = records.map((record, i) => (before[i] ? mergeShardRecords(before[i], record) : record));
    let nnz = 0;
    let bytes = 0;
    merged.forEach((record, i) => {
      void tx.objectStore('shards').put(record, [runId, record.shard, chunk]).catch(() => undefined);
      nnz += records[i]!.tokens.length;
      bytes += recordBytes(record) - (before[i] ? recordBytes(before[i]) : 0);
    });
    const complete = firstRow + rows === rowsInChunk(run, chunk);
    const updated: CacheRun = {
      ...run, chunksDone: complete ? chunk + 1 : chunk, partialRows: complete ? 0 : firstRow + rows, nnz: run.nnz + nnz, bytes: run.bytes + bytes,
      status: complete && chunk + 1 === run.nChunks ? 'done' : run.status,
    };
    void tx.objectStore('runs').put(updated).catch(() => undefined);
    await tx.done;
    return updated;
  } catch (error) {
    return storageError(error);
  }
}

/** Every stored activation of one feature: global token index (row * ctx + position) and value. */
export async function readFeature(db: CacheDatabase, run: CacheRun, feature: number): Promise<{ tokens: Uint32Array; values: Float32Array }> {
  const shard = Math.floor(feature / SHARD_FEATURES);
  const tx = db.transaction('shards');
  const tokens: number[] = [];
  const halves: number[] = [];
  let cursor = await tx.store.openCursor(IDBKeyRange.bound([run.id, shard, 0], [run.id, shard, Infinity]));
  while (cursor) {
    const chunk = cursor.key[2];
    const base = chunk * run.chunkRows * run.ctx;
    const part = featureInShard(cursor.value, feature);
    for (let i = 0; i < part.tokens.length; i++) {
      tokens.push(base + part.tokens[i]!);
      halves.push(part.values[i]!);
    }
    cursor = await cursor.continue();
  }
  return { tokens: Uint32Array.from(tokens), values: float16BitsToFloat32(Uint16Array.from(halves)) };
}

/** A shard's records of every chunk, in chunk order. */
export async function readShardChunks(db: CacheDatabase, run: CacheRun, shard: number): Promise<[number, ShardRecord][]> {
  const out: [number, ShardRecord][] = [];
  let cursor = await db.transaction('shards').store.openCursor(IDBKeyRange.bound([run.id, shard, 0], [run.id, shard, Infinity]));
  while (cursor) {
    out.push([cursor.key[2], cursor.value]);
    cursor = await cursor.continue();
  }
  return out;
}

/** Writes shard records of an import (shard-major, unlike a run) in one transaction, counting what they add. */
export async function writeShardRecords(db: CacheDatabase, runId: string, records: [number, ShardRecord][]): Promise<void> {
  try {
    const tx = db.transaction(['runs', 'shards'], 'readwrite');
    const run = await tx.objectStore('runs').get(runId);
    if (!run) throw new AppError('cache/not-found', `There is no cache "${runId}" in this browser.`);
    let nnz = 0;
    let bytes = 0;
    for (const [chunk, record] of records) {
      void tx.objectStore('shards').put(record, [runId, record.shard, chunk]).catch(() => undefined);
      nnz += record.tokens.length;
      bytes += recordBytes(record);
    }
    void tx.objectStore('runs').put({ ...run, nnz: run.nnz + nnz, bytes: run.bytes + bytes, status: 'running' }).catch(() => undefined);
    await tx.done;
  } catch (error) {
    storageError(error);
  }
}

/** Marks an import complete: every chunk is present. */
export async function finishImport(db: CacheDatabase, runId: string): Promise<CacheRun> {
  const run = await getRun(db, runId);
  const done: CacheRun = { ...run, chunksDone: run.nChunks, status: 'done' };
  await db.put('runs', done);
  return done;
}

/** The run's whole token matrix. */
export async function readRunTokens(db: CacheDatabase, run: CacheRun): Promise<Uint32Array> {
  const out = new Uint32Array(run.nRows * run.ctx);
  for (let chunk = 0; chunk < run.nChunks; chunk++) out.set(await readChunkTokens(db, run, chunk), chunk * run.chunkRows * run.ctx);
  return out;
}

/** SHA-256 over everything stored for a run (token chunks, then shard records in key order). */
export async function runDigest(db: CacheDatabase, run: CacheRun): Promise<string> {
  const parts: BlobPart[] = [];
  const add = (array: ArrayBufferView) => parts.push(new Uint8Array(array.buffer as ArrayBuffer, array.byteOffset, array.byteLength).slice());
  for (let chunk = 0; chunk < run.nChunks; chunk++) {
    const tokens = await db.get('tokens', [run.id, chunk]);
    if (tokens) add(tokens);
  }
  let cursor = await db.transaction('shards').store.openCursor(IDBKeyRange.bound([run.id, 0, 0], [run.id, Infinity, Infinity]));
  while (cursor) {
    add(new Uint32Array(cursor.key.slice(1) as number[]));
    add(cursor.value.counts);
    add(cursor.value.tokens);
    add(cursor.value.values);
    cursor = await cursor.continue();
  }
  return sha256Hex(parts);
}

/** All stored shard records of one chunk (for exports), in shard order. */
export async function readChunkShards(db: CacheDatabase, run: CacheRun, chunk: number): Promise<ShardRecord[]> {
  const records: ShardRecord[] = [];
  for (let shard = 0; shard * SHARD_FEATURES < run.width; shard++) {
    const record = await db.get('shards', [run.id, shard, chunk]);
    if (record) records.push(record);
  }
  return records;
}
