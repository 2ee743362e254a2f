/**
 * The cache runner's scheduling, on an in-memory IndexedDB (fake-indexeddb) with a deterministic stand-in
 * for the engine: the next batch is queued before the current one is collected, a pause stores what the
 * chunk in hand has encoded and resume goes on from there, an engine failure leaves whole chunks and a
 * resumable run. (The real engine and real
 * IndexedDB are covered by test/browser/cache.test.ts.)
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { packRows } from '../../../src/lib/corpus/index.ts';
import { chunkRowsFor } from '../../../src/lib/storage/index.ts';
import { batchRowsFor, runCache, type CacheProgress } from '../../../src/lib/latents/index.ts';
import type { SparseActivations } from '../../../src/lib/index.ts';
import { chunkToShards, createRun, getRun, listRuns, openCacheDb, readChunkTokens, readFeature, runDigest, storedTokens, writeChunk, type CacheDatabase, type CacheSettings } from '../../../src/lib/storage/index.ts';
import { errorCode } from '../../../src/lib/index.ts';
import { failure } from '../../support/async.ts';

const CTX = 8;
const ROWS = 20;
const WIDTH = 50;
const tokens = Uint32Array.from({ length: ROWS * CTX }, (_, i) => (i * 37 + 11) % 1000);

const settings: CacheSettings = {
  model: { repo: 'test/model', revision: 'main', hubUrl: '' },
  sae: { label: 'test', fingerprint: 'f', width: WIDTH, hookName: 'blocks.0.hook_resid_pre', architecture: 'topk', k: 2 },
  dataset: { description: 'unit', seed: 0, ctx: CTX, maxTokens: ROWS * CTX, prependBos: false },
};

/** Two active features per token, from its id: a pure function of the rows, like the real engine. */
function fakeEncode(rows: number[][]): SparseActivations {
  const ids = rows.flat();
  const offsets = Uint32Array.from({ length: ids.length + 1 }, (_, t) => 2 * t);
  const features = new Uint32Array(ids.length * 2);
  const values = new Float32Array(ids.length * 2);
  ids.forEach((id, t) => {
    const a = id % WIDTH;
    const b = (a + 1 + (id % 7)) % WIDTH;
    [features[2 * t], features[2 * t + 1]] = a < b ? [a, b] : [b, a];
    values[2 * t] = 1 + (id % 5);
    values[2 * t + 1] = 0.5;
  });
  return { tokens: ids.length, offsets, features, values };
}

let dbCount = 0;
async function freshRun(chunkRows = 6) {
  const db = await openCacheDb(`runner-test-${dbCount++}`);
  const run = await createRun(db, 'run', settings, tokens, 1000, chunkRows);
  return { db, run };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const digestOf = async (db: CacheDatabase) => runDigest(db, await getRun(db, 'run'));

/** The cache an uninterrupted run stores, made once. */
const reference = freshRun(6).then(async (ref) => {
  await runCache(ref.db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows: 6 });
  return ref;
});
const referenceDigest = async () => digestOf((await reference).db);

/** The tokens (global index) where the stand-in engine activates `feature`. */
const tokensOfFeature = (feature: number) => [...tokens].flatMap((id, t) => (fakeEncode([[id]]).features.includes(feature) ? [t] : []));

describe('runCache', () => {
  it('queues the next batch before collecting the current one, across chunk boundaries', async () => {
    const { db } = await freshRun(6); // chunks of 6, 6, 6, 2 rows
    const events: string[] = [];
    let calls = 0;
    const pending: (() => void)[] = [];
    const encode = (rows: number[][]) => {
      const call = calls++;
      events.push(`start ${call}`);
      return new Promise<SparseActivations>((resolve) => pending.push(() => { events.push(`end ${call}`); resolve(fakeEncode(rows)); }));
    };
    let finished = false;
    const done = runCache(db, 'run', { encode, batchRows: 4 }).finally(() => (finished = true)); // batches of 4+2 rows per full chunk
    // The stand-in engine finishes a batch only once the runner has queued the one after it (or all
    // seven are queued): a runner that waited for each batch before queueing the next would stall here.
    for (let i = 0; i < 5000 && !finished; i++) {
      await tick();
      if (pending.length >= 2 || (calls === 7 && pending.length)) pending.shift()!();
    }
    expect(finished, `the runner stalled after ${calls} batches: ${events.join(', ')}`).toBe(true);
    const run = await done;
    expect(run).toMatchObject({ status: 'done', chunksDone: 4, nnz: ROWS * CTX * 2 });
    expect(calls).toBe(7);
    // Batch n+1 starts before batch n ends, including the first batch of the next chunk.
    for (let n = 0; n + 1 < calls; n++) expect(events.indexOf(`start ${n + 1}`)).toBeLessThan(events.indexOf(`end ${n}`));
  });

  it('stores exactly what a batch-by-batch run would, whatever the batch size', async () => {
    const digests = new Set<string>();
    for (const batchRows of [1, 4, 6, 100]) {
      const { db } = await freshRun(6);
      await runCache(db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows });
      digests.add(await runDigest(db, await getRun(db, 'run')));
      if (batchRows === 1) {
        const feature = await readFeature(db, await getRun(db, 'run'), 11);
        expect(Array.from(feature.tokens)).toEqual(tokensOfFeature(11));
      }
    }
    expect(digests.size).toBe(1);
  });

  it('reports progress after every batch; a pause inside a chunk stores its encoded rows, and shows the same count', async () => {
    const { db } = await freshRun(6);
    const seen: CacheProgress[] = [];
    let pauseAfter = 3;
    const go = (batchRows: number) => runCache(db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows, onProgress: (p) => seen.push(p), shouldPause: () => seen.length >= pauseAfter });
    const paused = await go(2);
    // Batches of 2 rows: 16, 32 tokens within chunk 0, then the chunk (48) is stored and the pause lands between chunks.
    expect(seen.map((p) => p.done)).toEqual([16, 32, 48]);
    expect(paused).toMatchObject({ status: 'paused', chunksDone: 1, partialRows: 0 });
    pauseAfter = 4;
    const again = await go(2);
    expect(seen.at(-1)!.done).toBe(64); // mid-chunk: rows 6 and 7 (chunk 1's first two) are stored as a part
    expect(again).toMatchObject({ status: 'paused', chunksDone: 1, partialRows: 2, nnz: 8 * CTX * 2 });
    expect(storedTokens(again)).toBe(64);
    expect((await listRuns(db))[0]).toEqual(again);
    // The part reads back: a feature holds exactly its tokens among the first 64.
    const feature = await readFeature(db, again, 11);
    expect(Array.from(feature.tokens)).toEqual(tokensOfFeature(11).filter((t) => t < 64));
    pauseAfter = 5; // a second pause in the same chunk, resuming at its third row: progress goes on from 64
    const twice = await go(2);
    expect(seen.slice(3).map((p) => p.done)).toEqual([64, 80]);
    expect(twice).toMatchObject({ status: 'paused', chunksDone: 1, partialRows: 4, nnz: 10 * CTX * 2 });
    const finished = await runCache(db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows: 3 });
    expect(finished).toMatchObject({ status: 'done', chunksDone: 4, partialRows: 0, nnz: ROWS * CTX * 2 });
    expect(await runDigest(db, finished)).toBe(await referenceDigest());
    expect(finished.bytes).toBe((await getRun((await reference).db, 'run')).bytes);
  });

  it('paused after every batch, anywhere in any chunk (the short last one too), it ends with the uninterrupted cache', async () => {
    for (const batchRows of [1, 4]) {
      const { db } = await freshRun(6);
      let last = 0;
      let runs = 0;
      for (let run = await getRun(db, 'run'); run.status !== 'done'; runs++) {
        let events = 0;
        run = await runCache(db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows, onProgress: (p) => { events++; last = p.done; }, shouldPause: () => events > 0 });
        // What was shown last is what is stored: the count is the same before and after the pause.
        expect(storedTokens(run), `batches of ${batchRows}, run ${runs}`).toBe(last);
        expect(run.nnz).toBe(last * 2);
      }
      expect(runs).toBe(batchRows === 1 ? ROWS : 7); // one batch a run: 4 + 2 rows a chunk of 6, 2 rows in the last
      expect(await runDigest(db, await getRun(db, 'run'))).toBe(await referenceDigest());
    }
  });

  it('stores a part of a chunk only where the run expects it, from its next row on', async () => {
    const { db } = await freshRun(6);
    const part = (firstRow: number, rows: number) =>
      chunkToShards(fakeEncode(Array.from({ length: rows }, (_, r) => Array.from(tokens.subarray((firstRow + r) * CTX, (firstRow + r + 1) * CTX)))), WIDTH, firstRow * CTX);
    const refused = async (write: () => Promise<unknown>, message: RegExp) => {
      const before = await digestOf(db);
      const error = await failure(write);
      expect(errorCode(error)).toBe('cache/bad-input');
      expect(error.message).toMatch(message);
      expect(await digestOf(db)).toBe(before); // nothing was written
    };
    expect(await writeChunk(db, 'run', 0, part(0, 2), { firstRow: 0, rows: 2 })).toMatchObject({ chunksDone: 0, partialRows: 2, nnz: 2 * CTX * 2 });
    await refused(() => writeChunk(db, 'run', 0, part(0, 2), { firstRow: 0, rows: 2 }), /Rows 0 to 1 of chunk 0 arrived but the cache expects 4 rows from row 2/);
    await refused(() => writeChunk(db, 'run', 0, part(3, 2), { firstRow: 3, rows: 2 }), /expects 4 rows from row 2/);
    await refused(() => writeChunk(db, 'run', 0, part(2, 5), { firstRow: 2, rows: 5 }), /expects 4 rows from row 2/); // past the chunk
    await refused(() => writeChunk(db, 'run', 0, part(0, 6)), /expects 4 rows from row 2/); // the whole chunk again
    await refused(() => writeChunk(db, 'run', 1, part(6, 2), { firstRow: 0, rows: 2 }), /Chunk 1 arrived but the cache expects chunk 0/);
    expect(await writeChunk(db, 'run', 0, part(2, 4), { firstRow: 2, rows: 4 })).toMatchObject({ chunksDone: 1, partialRows: 0, nnz: 6 * CTX * 2 });
    // The two parts stored the records of the whole chunk.
    const whole = await freshRun(6);
    await writeChunk(whole.db, 'run', 0, part(0, 6));
    expect(await digestOf(db)).toBe(await digestOf(whole.db));
  });

  it('an engine failure stops the run with its message; whole chunks stay and resume completes it', async () => {
    const { db } = await freshRun(6);
    let calls = 0;
    const failing = async (rows: number[][]) => {
      if (++calls === 5) throw new Error('GPU device lost');
      return fakeEncode(rows);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(runCache(db, 'run', { encode: failing, batchRows: 3 })).rejects.toThrow('GPU device lost');
      await tick();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    const failed = await getRun(db, 'run');
    expect(failed).toMatchObject({ status: 'failed', error: 'GPU device lost', chunksDone: 2 });
    const resumed = await runCache(db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows: 3 });
    expect(resumed).toMatchObject({ status: 'done', chunksDone: 4, nnz: ROWS * CTX * 2 });
    expect(resumed.error).toBeUndefined();
  });

  it('stores what the chunk in hand has encoded every checkpoint: a tab closed mid-chunk loses at most the batches since, and the resumed cache is the uninterrupted one', async () => {
    const { db } = await freshRun(10); // 2 chunks of 10 rows; batches of 2 rows
    let clock = 0;
    let calls = 0;
    // Each batch takes a second. The tab goes away (nothing runs after it, not even the runner's own catch:
    // a hang stands for it) while the 4th batch encodes; the 5th is queued behind it.
    const closing = async (rows: number[][]) => {
      clock += 1000;
      if (++calls === 4) return new Promise<SparseActivations>(() => undefined);
      return fakeEncode(rows);
    };
    const progress: CacheProgress[] = [];
    void runCache(db, 'run', { encode: closing, batchRows: 2, checkpointMs: 1500, now: () => clock, onProgress: (p) => progress.push(p) });
    await expect.poll(() => calls).toBe(5);
    await tick();
    const left = await getRun(db, 'run');
    // Batches 1-3 (6 rows) were encoded by then, and stored by the checkpoints after batches 1 and 3.
    expect(left).toMatchObject({ chunksDone: 0, partialRows: 6 });
    expect(left.bytes).toBeGreaterThan(0);
    expect(storedTokens(left)).toBe(6 * CTX);
    // Progress never counts a row twice, checkpoint or not.
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
    expect(progress.at(-1)!.done).toBeLessThanOrEqual(6 * CTX);
    // Reopened (the stored status is still "running"), it resumes from row 6 and ends as an uninterrupted run.
    let resumedCalls = 0;
    await runCache(db, 'run', { encode: async (rows) => (resumedCalls++, fakeEncode(rows)), batchRows: 2, checkpointMs: 1500, now: () => (clock += 1000) });
    expect(resumedCalls).toBe(2 + 5);
    const whole = await freshRun(10);
    await runCache(whole.db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows: 2 });
    expect(await digestOf(db)).toBe(await digestOf(whole.db));
  });

  it('refuses a batch size that is not a positive whole number', async () => {
    const { db } = await freshRun(6);
    await expect(runCache(db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows: 0 })).rejects.toMatchObject({ code: 'cache/bad-input' });
  });
});

describe('at delphi\'s default size', () => {
  it('10M tokens pack into rows and their token matrix is stored in chunks that read back exactly', async () => {
    // 4,000 documents of 2,500 "tokens" each (ids from a counter, so any lost or shifted token shows).
    let next = 1;
    const tokenizer = { encode: (text: string) => Array.from({ length: text.length }, () => (next = (next * 48271) % 50000) + 1), eosTokenId: 0 };
    const documents = Array.from({ length: 4010 }, () => 'x'.repeat(2500));
    const packed = await packRows(documents, tokenizer, { ctx: 256, maxTokens: 10_000_000, seed: 22 });
    expect(packed.nRows).toBe(Math.floor(10_000_000 / 256));
    expect(packed.tokens.length).toBe(packed.nRows * 256);
    expect(packed.stats.budgetReached).toBe(true);

    const db = await openCacheDb(`runner-test-${dbCount++}`);
    const run = await createRun(db, 'big', { ...settings, dataset: { ...settings.dataset, ctx: 256, maxTokens: 10_000_000 } }, packed.tokens, 50257);
    expect(run.nChunks).toBe(Math.ceil(packed.nRows / chunkRowsFor(256)));
    expect(run.bytes).toBe(packed.tokens.length * 2); // uint16 ids: GPT-2's vocabulary fits
    const last = run.nChunks - 1;
    const stored = await readChunkTokens(db, run, last);
    expect(Array.from(stored)).toEqual(Array.from(packed.tokens.subarray(last * run.chunkRows * 256)));
  }, 120_000);
});

describe('batchRowsFor', () => {
  it('keeps pre-activations near 64 MiB, within 64 to 2048 tokens', () => {
    expect(batchRowsFor(256, 32768)).toBe(2); // 512 tokens x 32768 x 4 B = 64 MiB
    expect(batchRowsFor(256, 131072)).toBe(1); // 128 tokens: less than one row of 256, so one row
    expect(batchRowsFor(64, 128)).toBe(32); // 2048 tokens at most
    expect(batchRowsFor(1024, 1 << 20)).toBe(1);
  });

  it("stays within half the adapter's largest buffer", () => {
    expect(batchRowsFor(256, 32768, 2 ** 30)).toBe(2); // plenty: the 64 MiB budget decides
    expect(batchRowsFor(64, 32768, 32 * 2 ** 20)).toBe(2); // 16 MiB: 128 tokens
    expect(batchRowsFor(64, 24576, 12 * 2 ** 20)).toBe(1); // 6 MiB: 64 tokens, the floor
  });
});
