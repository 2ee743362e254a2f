/**
 * Our IndexedDB cache to delphi's layout and back, on an in-memory IndexedDB (fake-indexeddb), at a
 * size where feature shards straddle delphi's splits and rows span several chunks. (The browser test
 * does a small round trip on real IndexedDB and imports a Python-written fixture.)
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { importDelphiHook, runExport, runNonZeros } from '../../../src/lib/latents/index.ts';
import { runCache } from '../../../src/lib/latents/index.ts';
import { decodeDelphiSplit, exportDelphiZip, readDelphiZip, splitRanges } from '../../../src/lib/latents/index.ts';
import type { SparseActivations } from '../../../src/lib/index.ts';
import { createRun, getRun, openCacheDb, readFeature, readRunTokens, type CacheSettings } from '../../../src/lib/storage/index.ts';

const CTX = 16;
const ROWS = 600;
const WIDTH = 2500; // three shards of 1024; five splits of 500 features
const K = 6;

/** K distinct features per token, pseudo-random but a pure function of the token's place. */
function encodeRows(rows: number[][], firstToken: number): SparseActivations {
  const n = rows.length * CTX;
  const offsets = Uint32Array.from({ length: n + 1 }, (_, t) => t * K);
  const features = new Uint32Array(n * K);
  const values = new Float32Array(n * K);
  for (let t = 0; t < n; t++) {
    const picked = new Set<number>();
    let x = (firstToken + t) * 2654435761 + 7;
    while (picked.size < K) picked.add((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % WIDTH);
    [...picked].sort((a, b) => a - b).forEach((f, j) => {
      features[t * K + j] = f;
      values[t * K + j] = 0.25 + ((f + firstToken + t) % 40) / 8; // exact in float16
    });
  }
  return { tokens: n, offsets, features, values };
}

async function storedCache() {
  const db = await openCacheDb(`interchange-${Math.random()}`);
  const settings: CacheSettings = {
    model: { repo: 'test/model', revision: 'main', hubUrl: '' },
    sae: { label: 'test', fingerprint: 'f', width: WIDTH, hookName: 'blocks.3.hook_resid_post', architecture: 'topk', k: K },
    dataset: { description: 'unit', seed: 0, ctx: CTX, maxTokens: ROWS * CTX, prependBos: false },
  };
  const tokens = Uint32Array.from({ length: ROWS * CTX }, (_, i) => (i * 7919) % 50257);
  await createRun(db, 'run', settings, tokens, 50257, 250); // chunks of 250 rows: 250, 250, 100
  let done = 0;
  await runCache(db, 'run', {
    batchRows: 100,
    encode: async (rows) => {
      const out = encodeRows(rows, done);
      done += rows.length * CTX;
      return out;
    },
  });
  return { db, run: await getRun(db, 'run') };
}

describe('delphi interchange', () => {
  it('exports each split with exactly the non-zeros of its features, and imports them back unchanged', async () => {
    const { db, run } = await storedCache();
    expect(run).toMatchObject({ status: 'done', nChunks: 3, nnz: ROWS * CTX * K });

    // What each split must hold, straight from the encoder.
    const all = encodeRows(Array.from({ length: ROWS }, () => Array(CTX).fill(0)), 0);
    const zip = await exportDelphiZip(runExport(db, run, await readRunTokens(db, run), 5));
    const [hook] = await readDelphiZip(zip);
    expect(hook!.splits.map((s) => [s.start, s.end])).toEqual(splitRanges(WIDTH, 5).map((r) => [r.start, r.end]));
    let total = 0;
    for (const split of hook!.splits) {
      const data = await decodeDelphiSplit(split.blob, split.path, { tokens: false, nRows: ROWS, ctx: CTX });
      const want: string[] = [];
      for (let t = 0; t < all.tokens; t++) {
        for (let i = all.offsets[t]!; i < all.offsets[t + 1]!; i++) {
          const f = all.features[i]!;
          if (f >= split.start && f <= split.end) want.push(`${Math.floor(t / CTX)},${t % CTX},${f},${all.values[i]}`);
        }
      }
      const got = Array.from(data.features, (f, i) => `${data.rows[i]},${data.positions[i]},${f},${data.values[i]}`);
      expect(got).toEqual(want); // delphi's order: (row, position, feature)
      total += got.length;
    }
    expect(total).toBe(ROWS * CTX * K);

    const imported = await importDelphiHook(db, 'imported', hook!, 50257);
    expect(imported).toMatchObject({ status: 'done', nnz: ROWS * CTX * K, nRows: ROWS, ctx: CTX, width: WIDTH });
    expect(Array.from(await readRunTokens(db, imported))).toEqual(Array.from(await readRunTokens(db, run)));
    for (const feature of [0, 499, 500, 1023, 1024, 1500, 2047, 2048, 2499]) {
      const a = await readFeature(db, run, feature);
      const b = await readFeature(db, imported, feature);
      expect(Array.from(b.tokens), `feature ${feature}`).toEqual(Array.from(a.tokens));
      expect(Array.from(b.values)).toEqual(Array.from(a.values));
    }
  });

  it('reads one split range across the shards it touches, values as stored float16 bits', async () => {
    const { db, run } = await storedCache();
    const range = { start: 1000, end: 1100 }; // the end of shard 0 and the start of shard 1
    const split = await runNonZeros(db, run, range);
    expect(split.values).toBeInstanceOf(Uint16Array);
    const expected = [];
    for (let f = range.start; f <= range.end; f++) expected.push(...Array.from((await readFeature(db, run, f)).tokens, (t) => `${f}:${t}`));
    const got = Array.from(split.features, (f, i) => `${f}:${split.rows[i]! * CTX + split.positions[i]!}`);
    expect(got.sort()).toEqual(expected.sort());
  });
});
