/**
 * Non-activating windows: random ones never touch an activation, are distinct, cover the free windows
 * evenly and are reproducible per feature; neighbour windows follow the neighbours' order and
 * strength on a constructed case.
 */
import { describe, expect, test } from 'vitest';
import { featureRecord, neighbourWindows, nonActivatingWindows, randomFreeWindows, type FeatureActivations } from '../../../../src/lib/latents/index.ts';
import { Prng } from '../../../../src/lib/util/index.ts';
import { memoryReader, randomCache } from './caches.ts';

const acts = (pairs: [number, number][]): FeatureActivations => ({ tokens: Uint32Array.from(pairs, (p) => p[0]), values: Float32Array.from(pairs, (p) => p[1]) });

describe('random free windows', () => {
  test('distinct, increasing, never excluded; every free window drawn about equally often', () => {
    const excluded = Uint32Array.of(0, 1, 5, 6, 7, 19);
    const hits = new Uint32Array(20);
    for (let seed = 0; seed < 2000; seed++) {
      const picked = randomFreeWindows(excluded, 20, 5, new Prng(seed));
      expect(picked).toHaveLength(5);
      expect([...picked].sort((a, b) => a - b)).toEqual(picked);
      expect(new Set(picked).size).toBe(5);
      for (const w of picked) hits[w]!++;
    }
    for (const w of excluded) expect(hits[w]).toBe(0);
    const free = [...hits].filter((_, w) => !excluded.includes(w));
    // 2000 draws of 5 of 14: 714 each on average.
    expect(Math.min(...free)).toBeGreaterThan(600);
    expect(Math.max(...free)).toBeLessThan(830);
  });

  test('all free windows when fewer than asked; none when none is free', () => {
    expect(randomFreeWindows(Uint32Array.of(1, 3), 5, 10, new Prng(1))).toEqual([0, 2, 4]);
    expect(randomFreeWindows(Uint32Array.of(0, 1, 2), 3, 10, new Prng(1))).toEqual([]);
  });
});

describe('neighbour windows', () => {
  // Windows of 4 tokens. The feature fires in windows 0 and 2.
  const active = Uint32Array.of(0, 2);
  const neighbours: Record<number, FeatureActivations> = {
    7: acts([[1, 9], [5, 3], [13, 7], [21, 1]]), // windows 0 (9), 1 (3), 3 (7), 5 (1)
    8: acts([[4, 2], [17, 5]]), // windows 1 (2), 4 (5)
  };
  const activationsOf = async (f: number) => neighbours[f]!;

  test('most similar neighbour first, its strongest windows first, never the feature\'s own, at most perNeighbour each', async () => {
    expect(await neighbourWindows(active, [7, 8], activationsOf, { length: 4, count: 3, perNeighbour: 2 })).toEqual([3, 1, 4]);
    expect(await neighbourWindows(active, [8, 7], activationsOf, { length: 4, count: 10, perNeighbour: 10 })).toEqual([4, 1, 3, 5]);
  });

  test('topped up with random free windows when the neighbours offer too few', async () => {
    const windows = await nonActivatingWindows(active, 10, new Prng(4), { length: 4, count: 6, perNeighbour: 1 }, { features: [7, 8], activationsOf });
    expect(windows.slice(0, 2)).toEqual([3, 4]);
    expect(new Set(windows).size).toBe(6);
    expect(windows.some((w) => active.includes(w))).toBe(false);
  });
});

describe('in records', () => {
  const cache = randomCache(9, 40, 16, 6, 0.02);
  const reader = memoryReader(cache);

  test('non-activating examples never touch an activation of the feature, and show zeros', async () => {
    for (let feature = 0; feature < cache.width; feature++) {
      const record = await featureRecord(reader, feature, { exampleCtx: 4, nNonActivating: 30 });
      const fired = new Set(cache.entries.filter((e) => e[1] === feature).map((e) => e[0]));
      expect(record.non_activating).toHaveLength(30);
      for (const example of record.non_activating) {
        const first = example.row * cache.ctx + example.start;
        for (let t = first; t < first + 4; t++) expect(fired.has(t), `feature ${feature} token ${t}`).toBe(false);
        expect(example.activations).toEqual([0, 0, 0, 0]);
        expect(example.normalized).toEqual([0, 0, 0, 0]);
        expect(example.quantile).toBe(-1);
        expect(example.tokens).toEqual(Array.from(cache.tokens.subarray(first, first + 4)));
      }
    }
  });

  test('features that fire in the same windows still get their own draws', async () => {
    const twins = memoryReader({ ...cache, width: 2, entries: cache.entries.filter((e) => e[1] === 0).flatMap((e) => [e, [e[0], 1, e[2]] as typeof e]) });
    const [a, b] = await Promise.all([0, 1].map((f) => featureRecord(twins, f, { exampleCtx: 4, nNonActivating: 20 })));
    expect(a!.non_activating.map((e) => [e.row, e.start])).not.toEqual(b!.non_activating.map((e) => [e.row, e.start]));
  });

  test('seeded per feature: the same again, another seed another draw', async () => {
    const a = await featureRecord(reader, 2, { exampleCtx: 4, nNonActivating: 20 });
    expect((await featureRecord(reader, 2, { exampleCtx: 4, nNonActivating: 20 })).non_activating).toEqual(a.non_activating);
    expect((await featureRecord(reader, 2, { exampleCtx: 4, nNonActivating: 20, seed: 1 })).non_activating).not.toEqual(a.non_activating);
  });
});
