/**
 * Small caches for the records tests, the same activations in every store: arrays in memory, an
 * IndexedDB run (fake-indexeddb) and a delphi folder exported from that run.
 */
import 'fake-indexeddb/auto';
import { float16BitsToFloat32, float32ArrayToFloat16Bits } from '../../../../src/lib/formats/index.ts';
import { delphiCacheReader, delphiFiles, idbCacheReader, memoryCacheReader, readDelphiFolder, runExport, type CacheReader } from '../../../../src/lib/latents/index.ts';
import { chunkToShards, createRun, openCacheDb, writeChunk, type CacheDatabase, type CacheRun, type CacheSettings } from '../../../../src/lib/storage/index.ts';
import type { SparseActivations } from '../../../../src/lib/types.ts';
import { Prng } from '../../../../src/lib/util/index.ts';

/** One activation: global token index, feature, value. */
export type Entry = [token: number, feature: number, value: number];

export interface TestCache {
  tokens: Uint32Array;
  ctx: number;
  width: number;
  entries: Entry[];
  prependBos?: boolean;
}

/** Token-major activations of `nTokens` tokens (features increasing within a token). */
export function sparseOf(entries: readonly Entry[], nTokens: number): SparseActivations {
  const sorted = [...entries].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const offsets = new Uint32Array(nTokens + 1);
  for (const [token] of sorted) offsets[token + 1]!++;
  for (let t = 0; t < nTokens; t++) offsets[t + 1]! += offsets[t]!;
  return { tokens: nTokens, offsets, features: Uint32Array.from(sorted, (e) => e[1]), values: Float32Array.from(sorted, (e) => e[2]) };
}

/** Values as the stores keep them (float16). */
export const asHalf = (value: number): number => float16BitsToFloat32(float32ArrayToFloat16Bits(Float32Array.of(value)))[0]!;

export const memoryReader = (cache: TestCache): CacheReader =>
  memoryCacheReader({ tokens: cache.tokens, ctx: cache.ctx, width: cache.width, activations: sparseOf(cache.entries, cache.tokens.length), hook: 'test.hook', prependBos: cache.prependBos ?? false });

let dbCount = 0;

/** The cache stored as an IndexedDB run in chunks of `chunkRows` rows (the last `missingRows` rows left unencoded, as a paused run). */
export async function idbRun(cache: TestCache, chunkRows = 2, missingRows = 0): Promise<{ db: CacheDatabase; run: CacheRun }> {
  const db = await openCacheDb(`records-test-${dbCount++}`);
  const nRows = cache.tokens.length / cache.ctx;
  const settings: CacheSettings = {
    model: { repo: 'test/model', revision: 'main', hubUrl: '' },
    sae: { label: 'test', fingerprint: 'f', width: cache.width, hookName: 'test.hook', architecture: 'topk' },
    dataset: { description: 'unit', seed: 0, ctx: cache.ctx, maxTokens: cache.tokens.length, prependBos: cache.prependBos ?? false },
  };
  let run = await createRun(db, 'run', settings, cache.tokens, 1 << 16, chunkRows);
  const sparse = sparseOf(cache.entries, cache.tokens.length);
  for (let chunk = 0; chunk < run.nChunks; chunk++) {
    const firstRow = chunk * run.chunkRows;
    const rows = Math.min(run.chunkRows, nRows - missingRows - firstRow);
    if (rows <= 0) break;
    const first = firstRow * cache.ctx;
    const last = (firstRow + rows) * cache.ctx;
    const begin = sparse.offsets[first]!;
    const part: SparseActivations = {
      tokens: last - first,
      offsets: sparse.offsets.slice(first, last + 1).map((o) => o - begin),
      features: sparse.features.slice(begin, sparse.offsets[last]),
      values: sparse.values.slice(begin, sparse.offsets[last]),
    };
    const whole = rows === Math.min(run.chunkRows, nRows - firstRow);
    run = await writeChunk(db, run.id, chunk, chunkToShards(part, cache.width), whole ? undefined : { firstRow: 0, rows });
  }
  return { db, run };
}

export async function idbReader(cache: TestCache, chunkRows = 2): Promise<CacheReader> {
  const { db, run } = await idbRun(cache, chunkRows);
  return idbCacheReader(db, run);
}

/** The cache exported from an IndexedDB run to delphi's layout in `nSplits` files, and read back. */
export async function delphiReader(cache: TestCache, nSplits = 3): Promise<CacheReader> {
  const { db, run } = await idbRun(cache);
  const files: { path: string; blob: Blob }[] = [];
  for await (const file of delphiFiles(runExport(db, run, cache.tokens, nSplits))) files.push({ path: file.path, blob: new Blob([file.bytes]) });
  const [hook] = await readDelphiFolder(files);
  return delphiCacheReader(hook!, { prependBos: cache.prependBos ?? false });
}

/** Random activations: each token fires each feature with probability `density`, values in (0, 8). */
export function randomCache(seed: number, nRows: number, ctx: number, width: number, density: number, vocab = 50): TestCache {
  const prng = new Prng(seed);
  const tokens = Uint32Array.from({ length: nRows * ctx }, () => prng.int(vocab));
  const entries: Entry[] = [];
  for (let t = 0; t < tokens.length; t++) {
    for (let f = 0; f < width; f++) if (prng.uniform() < density * (1 + (f % 3))) entries.push([t, f, asHalf(8 * prng.uniform())]);
  }
  return { tokens, ctx, width, entries };
}
