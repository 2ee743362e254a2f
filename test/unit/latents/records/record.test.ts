/**
 * Whole records: exactly the schema other tools read, examples that are the cache's own windows with
 * their quantiles, train and test disjoint, the same record on demand and in the pass over all
 * features (from any store), features below minExamples left out, neighbour negatives.
 */
import { describe, expect, test } from 'vitest';
import { errorCode } from '../../../../src/lib/errors.ts';
import { cosineNeighbours, featureRecord, forEachFeatureRecord, quantileOf, type FeatureRecord, type FeatureVectors } from '../../../../src/lib/latents/index.ts';
import type { Progress } from '../../../../src/lib/util/index.ts';
import { delphiReader, idbReader, memoryReader, randomCache, type Entry } from './caches.ts';

const cache = randomCache(21, 100, 32, 6, 0.05);
const reader = memoryReader(cache);
const options = { exampleCtx: 8, minExamples: 150 };
const valueAt = new Map(cache.entries.map((e) => [`${e[0]}:${e[1]}`, e[2]]));
/** The cache's own activations of `feature` on a window of 8 from global token `first`. */
const windowOf = (feature: number, first: number) => Array.from({ length: 8 }, (_, i) => valueAt.get(`${first + i}:${feature}`) ?? 0);
const windowsOf = (feature: number) => new Set(cache.entries.filter((e) => e[1] === feature).map((e) => Math.floor(e[0] / 8))).size;

describe('one record', () => {
  test('has exactly the schema\'s keys, and survives JSON unchanged', async () => {
    const record = await featureRecord(reader, 2, options);
    expect(Object.keys(record)).toEqual(['feature', 'hook', 'n_activations', 'n_windows', 'max_activation', 'train', 'test', 'non_activating']);
    for (const example of [...record.train, ...record.test, ...record.non_activating]) expect(Object.keys(example)).toEqual(['row', 'start', 'tokens', 'activations', 'normalized', 'quantile']);
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    expect([record.feature, record.hook, record.train.length, record.test.length, record.non_activating.length]).toEqual([2, 'test.hook', 40, 50, 50]);
  });

  test('examples are the cache\'s windows: tokens, this feature\'s values, 0..10 of the max, the quantile of their rank', async () => {
    const feature = 5;
    const record = await featureRecord(reader, feature, options);
    const mine = cache.entries.filter((e) => e[1] === feature);
    expect(record.n_activations).toBe(mine.length);
    expect(record.max_activation).toBe(Math.max(...mine.map((e) => e[2])));
    // Rank every activating window independently: by max, descending, then by position.
    const ranked = [...new Set(mine.map((e) => Math.floor(e[0] / 8)))]
      .map((w) => ({ w, max: Math.max(...windowOf(feature, w * 8).filter((v) => v !== 0)) }))
      .sort((a, b) => b.max - a.max || a.w - b.w)
      .map((x) => x.w);
    expect(record.n_windows).toBe(ranked.length);
    const seen = new Set<number>();
    for (const example of [...record.train, ...record.test]) {
      const first = example.row * 32 + example.start;
      expect(example.tokens).toEqual(Array.from(cache.tokens.subarray(first, first + 8)));
      expect(example.activations).toEqual(windowOf(feature, first));
      expect(example.normalized).toEqual(example.activations.map((a) => (a > 0 ? Math.min(10, Math.ceil((10 * a) / record.max_activation)) : 0)));
      expect(example.quantile).toBe(quantileOf(ranked.indexOf(first / 8), ranked.length, 10));
      expect(seen.has(first), 'train and test share a window').toBe(false);
      seen.add(first);
    }
    const perQuantile = (examples: FeatureRecord['train']) => Array.from({ length: 10 }, (_, q) => examples.filter((e) => e.quantile === q).length);
    expect(perQuantile(record.train)).toEqual(Array(10).fill(4));
    expect(perQuantile(record.test)).toEqual(Array(10).fill(5));
  });

  test('a feature with fewer windows than quantiles: quantile 0 is its strongest window (one window: 0; two: 0 and 5)', async () => {
    // Feature 0 fires in two windows of 8 (the second weaker), feature 1 in one.
    const tokens = Uint32Array.from({ length: 4 * 32 }, (_, t) => t % 50);
    const entries: Entry[] = [[3, 0, 2], [70, 0, 6], [40, 1, 4]];
    const few = memoryReader({ tokens, ctx: 32, width: 2, entries });
    const two = await featureRecord(few, 0, { exampleCtx: 8, minExamples: 0 });
    const labels = [...two.train, ...two.test].map((e) => [e.row * 32 + e.start, e.quantile]).sort((a, b) => a[0]! - b[0]!);
    expect(labels).toEqual([[0, 5], [64, 0]]); // the window holding token 70 (value 6) is the stronger
    const one = await featureRecord(few, 1, { exampleCtx: 8, minExamples: 0 });
    expect([...one.train, ...one.test].map((e) => e.quantile)).toEqual([0]);
  });

  test('centred windows: the peak at 6 of 8, in its row', async () => {
    const record = await featureRecord(reader, 4, { ...options, windows: 'centred', trainType: 'top' });
    for (const example of record.train) {
      const first = example.row * 32 + example.start;
      expect(example.start + 8).toBeLessThanOrEqual(32);
      expect(example.activations).toEqual(windowOf(4, first));
      expect(example.activations[6]).toBeGreaterThan(0);
    }
  });

  test('a feature outside the cache, and neighbour negatives without neighbours, are refused', async () => {
    expect(errorCode(await featureRecord(reader, 6).catch((e) => e))).toBe('cache/bad-input');
    await expect(featureRecord(reader, 1, { ...options, negatives: 'neighbours' })).rejects.toThrow(/need a neighbour list/);
  });

  test('neighbour negatives come from the most similar features\' windows', async () => {
    // Decoder rows: feature 1 is nearly feature 0's direction, the others orthogonal.
    const vectors: FeatureVectors = { data: Float32Array.from([1, 0, 0, 0.9, 0.1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1]), width: 6, dim: 3, layout: 'feature-major' };
    const neighbours = (f: number) => cosineNeighbours(vectors, f, 3).map((n) => n.feature);
    expect(neighbours(0)[0]).toBe(1);
    const record = await featureRecord(reader, 0, { ...options, negatives: 'neighbours', nNonActivating: 10, perNeighbour: 10 }, neighbours);
    expect(record.non_activating).toHaveLength(10);
    for (const example of record.non_activating) {
      const first = example.row * 32 + example.start;
      expect(windowOf(0, first)).toEqual(Array(8).fill(0));
      expect(windowOf(1, first).some((v) => v > 0)).toBe(true);
    }
  });
});

test('neighbour windows count the neighbour\'s activations as this feature\'s: row starts skipped for both', async () => {
  // Rows of 8, windows of 4. Feature 1 fires strongly at every row start (BOS) and weakly in windows 3 and 5.
  const entries: Entry[] = [[2, 0, 1], [13, 1, 1], [21, 1, 1], ...Array.from({ length: 9 }, (_, r): Entry => [8 * (r + 1), 1, 9])];
  const bos = memoryReader({ tokens: new Uint32Array(80), ctx: 8, width: 2, entries, prependBos: true });
  const record = await featureRecord(bos, 0, { exampleCtx: 4, minExamples: 0, negatives: 'neighbours', nNonActivating: 2 }, () => [1]);
  expect(record.non_activating.map((e) => [e.row, e.start])).toEqual([[1, 4], [2, 4]]);
});

describe('all records', () => {
  test('the pass gives each qualifying feature the record it gets on demand, in order, from every store', async () => {
    const qualifying = Array.from({ length: 6 }, (_, f) => f).filter((f) => windowsOf(f) >= 150);
    expect(qualifying.length).toBeGreaterThanOrEqual(2);
    expect(qualifying.length).toBeLessThan(6);
    const onDemand = await Promise.all(qualifying.map((f) => featureRecord(reader, f, options)));
    for (const source of [reader, await idbReader(cache, 7), await delphiReader(cache, 4)]) {
      const records: FeatureRecord[] = [];
      const events: Progress[] = [];
      const counts = await forEachFeatureRecord(source, options, (record) => void records.push(record), { onProgress: (p) => events.push(p) });
      expect(records).toEqual(onDemand);
      expect(counts).toEqual({ built: qualifying.length, skipped: 6 - qualifying.length });
      expect(events.at(-1)).toMatchObject({ stage: 'records', done: 6, total: 6 });
    }
  });

  test('neighbour negatives in the pass read other blocks without disturbing it (delphi splits, IndexedDB shards)', async () => {
    const given = { ...options, minExamples: 0, negatives: 'neighbours' as const, nNonActivating: 30 };
    const neighbours = (f: number) => [(f + 3) % 6, (f + 1) % 6];
    const expected = await Promise.all(Array.from({ length: 6 }, (_, f) => featureRecord(reader, f, given, neighbours)));
    for (const source of [await delphiReader(cache, 3), await idbReader(cache, 7)]) {
      const records: FeatureRecord[] = [];
      await forEachFeatureRecord(source, given, (record) => void records.push(record), { neighbours });
      expect(records).toEqual(expected);
    }
  });

  test('a feature with exactly minExamples windows is built, one fewer is not', async () => {
    const built = async (minExamples: number) => {
      const out: number[] = [];
      await forEachFeatureRecord(reader, { exampleCtx: 8, minExamples }, (record) => void out.push(record.feature));
      return out.includes(3);
    };
    expect([await built(windowsOf(3)), await built(windowsOf(3) + 1)]).toEqual([true, false]);
  });

  test('minExamples 0 builds every feature that fires; a cancelled pass stops', async () => {
    const records: number[] = [];
    await forEachFeatureRecord(reader, { exampleCtx: 8, minExamples: 0 }, (record) => void records.push(record.feature));
    expect(records).toEqual([0, 1, 2, 3, 4, 5]);
    const controller = new AbortController();
    const stopped = forEachFeatureRecord(reader, options, () => controller.abort(), { signal: controller.signal });
    expect(errorCode(await stopped.catch((e) => e))).toBe('cancelled');
  });
});
