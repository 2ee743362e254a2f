/**
 * Runs a cache: chunk by chunk, the chunk's token rows go through the engine in batches, the sparse
 * activations are regrouped by feature and stored with the run's progress in one transaction. A pause
 * stores the rows of the chunk in hand encoded so far as a part of it. A run starts at the first row
 * not yet stored, so a paused, crashed or reloaded run resumes where it was (a crash loses the chunk
 * in hand, a pause nothing) and ends with exactly the cache an uninterrupted run would have written.
 */
import { AppError, errorCode, errorMessage } from '../errors.ts';
import { concatSparse } from '../sae/index.ts';
import { chunkToShards, getRun, readChunkTokens, storedTokens, updateRun, writeChunk, type CacheDatabase, type CacheRun } from '../storage/index.ts';
import type { SparseActivations } from '../types.ts';
import { formatDuration, type Progress } from '../util/index.ts';

/** A cache run's progress: `done` of `total` tokens encoded (stored ones plus those of the chunk in hand), speed and size. */
export interface CacheProgress extends Progress {
  stage: 'encode';
  total: number;
  runId: string;
  /** Stored chunks. */
  chunksDone: number;
  nChunks: number;
  /** Over the chunks encoded in this session (resumed chunks excluded). */
  tokensPerSecond: number;
  etaSeconds: number | undefined;
  bytes: number;
  nnz: number;
}

export interface CacheRunnerOptions {
  /** Encodes equal-length token rows into CSR activations (the engine). */
  encode: (rows: number[][]) => Promise<SparseActivations>;
  /** Rows per encode call (bounded by GPU memory: tokens x SAE width floats of pre-activations). */
  batchRows: number;
  onProgress?: (progress: CacheProgress) => void;
  /** Checked after each batch: true stores what the chunk in hand has encoded and stops, leaving the run resumable from there. */
  shouldPause?: () => boolean;
  /**
   * What the chunk in hand has encoded is stored at least this often (ms; default 5000), as a pause
   * stores it, so a closed tab or a reload loses at most this much work, and the bytes stored grow as
   * the run goes.
   */
  checkpointMs?: number;
  now?: () => number;
}

/**
 * Rows per encode call: the pre-activations (tokens x width float32, one GPU buffer, held twice while the
 * encoder's column blocks are joined) stay within 64 MiB and within half the adapter's largest buffer;
 * 64 to 2048 tokens, at least one row.
 */
export function batchRowsFor(ctx: number, width: number, maxBufferBytes = Infinity): number {
  const budget = Math.min(64 * 2 ** 20, maxBufferBytes / 2);
  const tokens = Math.min(2048, Math.max(64, Math.floor(budget / (4 * width))));
  return Math.max(1, Math.floor(tokens / ctx));
}

export async function runCache(db: CacheDatabase, runId: string, options: CacheRunnerOptions): Promise<CacheRun> {
  const batchRows = options.batchRows;
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new AppError('cache/bad-input', `Rows per batch must be a whole number of at least 1, not ${batchRows}.`);
  const now = options.now ?? (() => performance.now());
  let run = await getRun(db, runId);
  if (run.chunksDone >= run.nChunks) return run;
  if (options.shouldPause?.()) return updateRun(db, runId, { status: 'paused' });
  run = await updateRun(db, runId, { status: 'running', error: undefined, errorCode: undefined });
  const started = now();
  let encodedTokens = 0;
  let lastStored = started;

  /** The chunk's token rows from row `from` on (past the part a pause stored). */
  const chunkRows = async (chunk: number, from = 0): Promise<number[][]> => {
    const tokens = await readChunkTokens(db, run, chunk);
    const rows: number[][] = [];
    for (let r = from; r < tokens.length / run.ctx; r++) rows.push(Array.from(tokens.subarray(r * run.ctx, (r + 1) * run.ctx)));
    return rows;
  };
  // One batch is always queued ahead of the one being collected, so the engine works on the next batch
  // while this one's result is regrouped and stored. `launch` keeps a failure of a batch that is then
  // dropped (pause, error) from surfacing as an unhandled rejection; awaiting it still throws.
  const launch = (rows: number[][]): Promise<SparseActivations> => {
    const result = options.encode(rows);
    result.catch(() => undefined);
    return result;
  };
  let ahead: Promise<SparseActivations> | undefined;
  const dropAhead = async () => {
    await ahead?.catch(() => undefined);
    ahead = undefined;
  };
  const pause = async () => {
    await dropAhead();
    return updateRun(db, runId, { status: 'paused' });
  };

  try {
    let rows = await chunkRows(run.chunksDone, run.partialRows ?? 0);
    ahead = launch(rows.slice(0, batchRows));
    while (run.chunksDone < run.nChunks) {
      const chunk = run.chunksDone;
      const firstRow = run.partialRows ?? 0; // `rows` are the chunk's rows from this one on
      const parts: SparseActivations[] = [];
      /** Rows of `rows` stored already (by checkpoints): `parts` hold those after them. */
      let storedRows = 0;
      /** Stores rows `storedRows` to `count` of `rows`, encoded in `parts`: the chunk's rest, or a part of it. */
      const store = async (count: number) => {
        const sparse = concatSparse(parts.splice(0));
        const from = firstRow + storedRows;
        if (sparse.tokens !== (count - storedRows) * run.ctx) throw new AppError('cache/mismatch', `The engine returned ${sparse.tokens} tokens for ${(count - storedRows) * run.ctx}.`);
        run = await writeChunk(db, runId, chunk, chunkToShards(sparse, run.width, from * run.ctx), { firstRow: from, rows: count - storedRows });
        encodedTokens += (count - storedRows) * run.ctx;
        storedRows = count;
        lastStored = now();
      };
      // The next chunk's rows are read while this chunk encodes, so its first batch is queued without a wait.
      const nextRead = chunk + 1 < run.nChunks ? chunkRows(chunk + 1) : undefined;
      nextRead?.catch(() => undefined);
      let nextRows = rows;
      for (let b = 0; b < rows.length; b += batchRows) {
        const current = ahead!;
        if (b + batchRows < rows.length) ahead = launch(rows.slice(b + batchRows, b + 2 * batchRows));
        else if (nextRead) ahead = launch((nextRows = await nextRead).slice(0, batchRows));
        else ahead = undefined;
        parts.push(await current);
        const encoded = Math.min(rows.length, b + batchRows);
        if (encoded === rows.length) break;
        options.onProgress?.(progressOf(run, encodedTokens + (encoded - storedRows) * run.ctx, (now() - started) / 1000, (encoded - storedRows) * run.ctx));
        // A pause keeps what the chunk in hand has encoded (the progress just shown); the batch queued after it is dropped.
        if (options.shouldPause?.()) {
          await store(encoded);
          return await pause();
        }
        // So does a checkpoint, now and then, and the run goes on.
        if (now() - lastStored >= (options.checkpointMs ?? 5000)) await store(encoded);
      }
      await store(rows.length);
      options.onProgress?.(progressOf(run, encodedTokens, (now() - started) / 1000));
      rows = nextRows;
      if (run.chunksDone < run.nChunks && options.shouldPause?.()) return await pause();
    }
    return run;
  } catch (error) {
    await dropAhead();
    await updateRun(db, runId, { status: 'failed', error: errorMessage(error), errorCode: errorCode(error) }).catch(() => undefined);
    throw error;
  }
}

/** `pendingTokens`: tokens of the chunk in hand already encoded but not yet stored. */
export function progressOf(run: CacheRun, encodedTokens: number, seconds: number, pendingTokens = 0): CacheProgress {
  const total = run.nRows * run.ctx;
  const done = Math.min(total, storedTokens(run) + pendingTokens);
  const tokensPerSecond = seconds > 0 ? encodedTokens / seconds : 0;
  const etaSeconds = tokensPerSecond > 0 ? (total - done) / tokensPerSecond : undefined;
  const speed = tokensPerSecond > 0 ? ` · ${Math.round(tokensPerSecond).toLocaleString()} tokens/s · ${etaSeconds === undefined ? '' : `${formatDuration(etaSeconds)} left`}` : '';
  return {
    stage: 'encode',
    done,
    total,
    text: `${done.toLocaleString()} of ${total.toLocaleString()} tokens${speed}`,
    runId: run.id,
    chunksDone: run.chunksDone,
    nChunks: run.nChunks,
    tokensPerSecond,
    etaSeconds,
    bytes: run.bytes,
    nnz: run.nnz,
  };
}
