/**
 * The one-pass statistics: exact counts on a hand-computed cache read from each store (arrays,
 * IndexedDB, delphi files), with and without row starts, and random caches against a naive
 * recomputation; progress and cancellation.
 */
import { describe, expect, test } from 'vitest';
import { errorCode } from '../../../../src/lib/errors.ts';
import { computeFeatureStats, countQualifying, featureDensity, featureHistogram, featureTopTokens, type CacheReader } from '../../../../src/lib/latents/index.ts';
import type { FeatureStats } from '../../../../src/lib/storage/index.ts';
import type { Progress } from '../../../../src/lib/util/index.ts';
import { delphiReader, idbReader, memoryReader, randomCache, type TestCache } from './caches.ts';

// Rows of 8 tokens, windows of 4.
const hand: TestCache = {
  ctx: 8,
  width: 5,
  tokens: Uint32Array.from([50, 1, 2, 3, 1, 1, 4, 5, 50, 2, 2, 6, 7, 8, 9, 1, 50, 3, 3, 3, 3, 2, 1, 0]),
  entries: [
    [0, 0, 9], [1, 0, 2], [2, 0, 4], [5, 0, 1], [9, 0, 3], [17, 0, 0.5],
    [8, 2, 5],
    [3, 3, 2], [11, 3, 2], [19, 3, 2], [23, 3, 6],
    [20, 4, 1],
  ],
};

const readers: [string, () => Promise<CacheReader>][] = [
  ['arrays', async () => memoryReader(hand)],
  ['IndexedDB', () => idbReader(hand)],
  ['delphi files', () => delphiReader(hand)],
];

const column = (stats: FeatureStats, key: 'nnz' | 'windows' | 'max' | 'mean') => Array.from(stats[key]);

describe.each(readers)('statistics of a hand-computed cache (%s)', (_, open) => {
  test('row starts kept: counts, windows, max, mean, histogram, top tokens, dead', async () => {
    const stats = await computeFeatureStats(await open(), { exampleCtx: 4, skipBosPosition: false, bins: 4, topTokens: 2 });
    expect([stats.width, stats.nTokens, stats.nWindows, stats.nonZeros, stats.dead]).toEqual([5, 24, 6, 12, 1]);
    expect(column(stats, 'nnz')).toEqual([6, 0, 1, 4, 1]);
    expect(column(stats, 'windows')).toEqual([4, 0, 1, 4, 1]);
    expect(column(stats, 'max')).toEqual([9, 0, 5, 6, 1]);
    expect(column(stats, 'mean')).toEqual([3.25, 0, 5, 3, 1]);
    // Feature 0 over [0, 9] in 4 bins: 0.5, 1, 2 | 3, 4 | - | 9.  Feature 3 over [0, 6]: 2, 2, 2 | 6.
    expect(Array.from(stats.histogram)).toEqual([3, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 3, 0, 1, 0, 0, 0, 1]);
    expect(featureTopTokens(stats, 0)).toEqual([{ token: 1, count: 2 }, { token: 2, count: 2 }]);
    expect(featureTopTokens(stats, 1)).toEqual([]);
    expect(featureTopTokens(stats, 2)).toEqual([{ token: 50, count: 1 }]);
    expect(featureTopTokens(stats, 3)).toEqual([{ token: 3, count: 2 }, { token: 0, count: 1 }]);
    expect(featureTopTokens(stats, 4)).toEqual([{ token: 3, count: 1 }]);
  });

  test('row starts skipped: the BOS activations count nowhere', async () => {
    const stats = await computeFeatureStats(await open(), { exampleCtx: 4, skipBosPosition: true, bins: 4, topTokens: 2 });
    expect([stats.nTokens, stats.dead]).toEqual([21, 2]);
    expect(column(stats, 'nnz')).toEqual([5, 0, 0, 4, 1]);
    expect(column(stats, 'windows')).toEqual([4, 0, 0, 4, 1]);
    expect(column(stats, 'max')).toEqual([4, 0, 0, 6, 1]);
    expect(column(stats, 'mean')).toEqual([2.1, 0, 0, 3, 1].map(Math.fround));
    expect(Array.from(featureHistogram(stats, 0).counts)).toEqual([1, 1, 1, 2]); // 0.5 | 1 | 2 | 3, 4
    expect(featureHistogram(stats, 0).binWidth).toBe(1);
    expect(featureTopTokens(stats, 2)).toEqual([]);
    expect(stats.options).toEqual({ exampleCtx: 4, skipBosPosition: true, bins: 4, topTokens: 2 });
  });
});

test('density and qualifying features', async () => {
  const stats = await computeFeatureStats(memoryReader(hand), { exampleCtx: 4 });
  expect(featureDensity(stats, 0)).toBe(6 / 24);
  expect([countQualifying(stats, 0), countQualifying(stats, 1), countQualifying(stats, 2), countQualifying(stats, 5)]).toEqual([4, 4, 2, 0]);
  expect(stats.options).toEqual({ exampleCtx: 4, skipBosPosition: false, bins: 50, topTokens: 10 });
});

/** The statistics recomputed the plain way, from the list of activations. */
function naiveStats(cache: TestCache, L: number, skip: boolean, bins: number, topTokens: number) {
  return Array.from({ length: cache.width }, (_, f) => {
    const mine = cache.entries.filter((e) => e[1] === f && !(skip && e[0] % cache.ctx === 0)).sort((a, b) => a[0] - b[0]);
    const values = mine.map((e) => e[2]);
    const max = values.length ? Math.max(...values) : 0;
    const histogram = new Array<number>(bins).fill(0);
    for (const v of values) histogram[Math.min(bins - 1, Math.max(0, Math.floor(v * (bins / max))))]!++;
    const counts = new Map<number, number>();
    for (const [t] of mine) counts.set(cache.tokens[t]!, (counts.get(cache.tokens[t]!) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, topTokens).map(([token, count]) => ({ token, count }));
    return {
      nnz: values.length,
      windows: new Set(mine.map((e) => Math.floor(e[0] / L))).size,
      max,
      mean: values.length ? Math.fround(values.reduce((a, b) => a + b, 0) / values.length) : 0,
      histogram: values.length ? histogram : histogram.fill(0),
      top,
    };
  });
}

describe('random caches against a naive recomputation', () => {
  test.each([
    ['arrays, 3 blocks of features', 1, 2100, 0.0015, false],
    ['arrays, row starts skipped', 2, 60, 0.02, true],
  ])('%s', async (_, seed, width, density, skip) => {
    const cache = randomCache(seed, 30, 16, width, density);
    const stats = await computeFeatureStats(memoryReader(cache), { exampleCtx: 8, skipBosPosition: skip, bins: 7, topTokens: 3 });
    const naive = naiveStats(cache, 8, skip, 7, 3);
    expect(stats.dead).toBe(naive.filter((s) => s.nnz === 0).length);
    naive.forEach((expected, f) => {
      const got = {
        nnz: stats.nnz[f],
        windows: stats.windows[f],
        max: stats.max[f],
        mean: stats.mean[f],
        histogram: Array.from(featureHistogram(stats, f).counts),
        top: featureTopTokens(stats, f),
      };
      expect(got, `feature ${f}`).toEqual(expected);
    });
  });

  test('IndexedDB and delphi files give what the arrays give', async () => {
    const cache = randomCache(3, 24, 16, 50, 0.02);
    const options = { exampleCtx: 8, skipBosPosition: true, bins: 9, topTokens: 4 };
    const reference = await computeFeatureStats(memoryReader(cache), options);
    expect(await computeFeatureStats(await idbReader(cache, 5), options)).toEqual(reference);
    expect(await computeFeatureStats(await delphiReader(cache, 4), options)).toEqual(reference);
  });
});

test('progress rises block by block to the width; a cancelled pass stops with `cancelled`', async () => {
  const reader = memoryReader(randomCache(4, 8, 8, 3000, 0.001));
  const events: Progress[] = [];
  await computeFeatureStats(reader, { exampleCtx: 4 }, { onProgress: (p) => events.push(p) });
  expect(events.map((e) => e.done)).toEqual([1024, 2048, 3000]);
  expect(events.every((e) => e.stage === 'stats' && e.total === 3000)).toBe(true);
  const controller = new AbortController();
  const stopped = computeFeatureStats(reader, { exampleCtx: 4 }, { signal: controller.signal, onProgress: () => controller.abort() });
  await expect(stopped).rejects.toSatisfy((error) => errorCode(error) === 'cancelled');
});

test('bad options are refused, naming the setting', async () => {
  await expect(computeFeatureStats(memoryReader(hand), { exampleCtx: 3 })).rejects.toThrow(/must divide the cache's rows of 8/);
  await expect(computeFeatureStats(memoryReader(hand), { exampleCtx: 4, bins: 0 })).rejects.toThrow(/bins/);
});
