/**
 * The cache runner's scheduling, on an in-memory IndexedDB (fake-indexeddb) with a deterministic stand-in
 * for the engine: the next batch is queued before the current one is collected, a pause drops only the
 * chunk in hand, an engine failure leaves whole chunks and a resumable run. (The real engine and real
 * IndexedDB are covered by test/browser/cache.test.ts.)
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { packRows } from '../../../src/lib/corpus/index.ts';
import { chunkRowsFor } from '../../../src/lib/storage/index.ts';
import { runCache, type CacheProgress } from '../../../src/lib/latents/index.ts';
import type { SparseActivations } from '../../../src/lib/index.ts';
import { createRun, getRun, openCacheDb, readChunkTokens, readFeature, runDigest, type CacheSettings } from '../../../src/lib/storage/index.ts';

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
        const expected = [...tokens].flatMap((id, t) => (fakeEncode([[id]]).features.includes(11) ? [t] : []));
        expect(Array.from(feature.tokens)).toEqual(expected);
      }
    }
    expect(digests.size).toBe(1);
  });

  it('reports progress after every batch and pauses inside a chunk without storing it', async () => {
    const { db } = await freshRun(6);
    const seen: CacheProgress[] = [];
    let pauseAfter = 3;
    const paused = await runCache(db, 'run', {
      encode: async (rows) => fakeEncode(rows),
      batchRows: 2,
      onProgress: (p) => seen.push(p),
      shouldPause: () => seen.length >= pauseAfter,
    });
    // Batches of 2 rows: 16, 32 tokens within chunk 0, then the chunk (48) is stored; the pause lands at 64.
    expect(seen.map((p) => p.done)).toEqual([16, 32, 48]);
    expect(paused).toMatchObject({ status: 'paused', chunksDone: 1 });
    pauseAfter = 4;
    const again = await runCache(db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows: 2, onProgress: (p) => seen.push(p), shouldPause: () => seen.length >= pauseAfter });
    expect(seen.at(-1)!.done).toBe(64); // mid-chunk: chunk 1 is not stored
    expect(again).toMatchObject({ status: 'paused', chunksDone: 1 });
    const finished = await runCache(db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows: 3 });
    const reference = await freshRun(6);
    await runCache(reference.db, 'run', { encode: async (rows) => fakeEncode(rows), batchRows: 6 });
    expect(finished.status).toBe('done');
    expect(await runDigest(db, finished)).toBe(await runDigest(reference.db, await getRun(reference.db, 'run')));
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
