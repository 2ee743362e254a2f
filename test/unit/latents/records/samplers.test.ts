/**
 * Normalization and sampling: delphi's 0..10 scale, quantile slices, every train mode, test sets
 * disjoint from train over many seeds and sizes, and draws reproducible per (seed, feature).
 */
import { describe, expect, test } from 'vitest';
import { featureSeed, normalizeActivation, normalizeActivations, quantileBounds, quantileOf, sampleExamples, sampleQuantiles, sampleTrain, type TrainType } from '../../../../src/lib/latents/index.ts';
import { Prng } from '../../../../src/lib/util/index.ts';

const defaults = { nTrain: 40, trainType: 'quantiles' as TrainType, nTest: 50, nQuantiles: 10, seed: 22 };
/** How many of `ranks` fall in each slice of quantileBounds(n, q). */
const perSlice = (ranks: number[], n: number, q: number) => {
  const bounds = quantileBounds(n, q);
  return bounds.slice(0, -1).map((b, i) => ranks.filter((r) => r >= b && r < bounds[i + 1]!).length);
};

describe('normalization', () => {
  test('ceil(10 a / max), clamped to 0..10: any positive value is at least 1', () => {
    expect(normalizeActivations([10, 5, 5.0001, 0.01, 3, 0, -2, 12], 10)).toEqual([10, 5, 6, 1, 3, 0, 0, 10]);
    expect(normalizeActivation(3, 7)).toBe(5); // 4.29 rounds up
    expect(normalizeActivation(1e-30, 1e30)).toBe(1);
  });

  test('a feature that never fires (max 0) normalizes to zeros', () => {
    expect(normalizeActivations([0, 0], 0)).toEqual([0, 0]);
  });
});

describe('quantile slices', () => {
  test('bounds floor(i n / q): equal slices that cover every window', () => {
    expect(quantileBounds(100, 10)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(quantileBounds(25, 10)).toEqual([0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25]);
    expect(quantileBounds(10, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('fewer windows than slices: quantile 0 holds the strongest, each window opens the slice of its rank share', () => {
    // Slices 0, 3 and 6 hold the three windows (bounds ceil(i n / q)); the others are empty.
    expect(quantileBounds(3, 10)).toEqual([0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3]);
    expect([0, 1, 2].map((rank) => quantileOf(rank, 3, 10))).toEqual([0, 3, 6]);
    expect([0, 1].map((rank) => quantileOf(rank, 2, 10))).toEqual([0, 5]);
    expect(quantileOf(0, 1, 10)).toBe(0);
    // And always: the strongest window in quantile 0, labels never rising faster than the ranks fall.
    for (let n = 1; n <= 60; n++) {
      for (let q = 1; q <= 12; q++) {
        expect(quantileOf(0, n, q)).toBe(0);
        for (let rank = 1; rank < n; rank++) expect(quantileOf(rank, n, q)).toBeGreaterThanOrEqual(quantileOf(rank - 1, n, q));
        expect(quantileOf(n - 1, n, q)).toBeLessThan(q);
      }
    }
  });

  test('quantileOf names the slice that holds each rank', () => {
    for (let n = 1; n <= 60; n++) {
      for (let q = 1; q <= 12; q++) {
        const bounds = quantileBounds(n, q);
        for (let rank = 0; rank < n; rank++) {
          const i = quantileOf(rank, n, q);
          expect(bounds[i]! <= rank && rank < bounds[i + 1]!, `n ${n} q ${q} rank ${rank} -> ${i}`).toBe(true);
        }
      }
    }
  });

  test('each slice gives its share (4 per decile for 40, 5 for 50), spread when it does not divide', () => {
    const taken = new Uint8Array(1000);
    expect(perSlice(sampleQuantiles(1000, 40, 10, new Prng(1), taken), 1000, 10)).toEqual(Array(10).fill(4));
    expect(perSlice(sampleQuantiles(1000, 50, 10, new Prng(1), taken), 1000, 10)).toEqual(Array(10).fill(5));
    expect(perSlice(sampleQuantiles(1000, 13, 4, new Prng(1), new Uint8Array(1000)), 1000, 4)).toEqual([3, 3, 3, 4]);
  });

  test('a slice with fewer windows than its share gives all it has', () => {
    const ranks = sampleQuantiles(15, 40, 10, new Prng(3), new Uint8Array(15));
    expect(ranks).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });
});

describe('train modes', () => {
  const train = (trainType: TrainType, n: number, seed = 5, nTrain = 40) => sampleTrain(n, { nTrain, trainType, nQuantiles: 10 }, new Prng(seed), new Uint8Array(n));

  test('top: the strongest windows', () => {
    expect(train('top', 500)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(train('top', 7)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test('random: distinct windows from anywhere, a different draw per seed', () => {
    const a = train('random', 500, 1);
    expect(new Set(a).size).toBe(40);
    expect(a.every((r) => r >= 0 && r < 500)).toBe(true);
    expect(train('random', 500, 2)).not.toEqual(a);
    // Over many draws every window is drawn about 40/500 of the time.
    const hits = new Uint32Array(500);
    for (let seed = 0; seed < 1000; seed++) for (const r of train('random', 500, seed)) hits[r]!++;
    expect(Math.min(...hits)).toBeGreaterThan(40);
    expect(Math.max(...hits)).toBeLessThan(130);
  });

  test('quantiles: 4 from each decile', () => {
    expect(perSlice(train('quantiles', 500), 500, 10)).toEqual(Array(10).fill(4));
  });

  test('mix: the strongest fifth, the rest by quantiles among the others', () => {
    const ranks = train('mix', 500);
    expect(ranks.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(ranks).toHaveLength(40);
    expect(new Set(ranks).size).toBe(40);
    expect(perSlice(ranks.slice(8), 500, 10)).toEqual([3, 3, 3, 3, 4, 3, 3, 3, 3, 4]); // 32 spread over 10: floor((i + 1) 32 / 10) - floor(i 32 / 10)
  });
});

describe('train and test', () => {
  test('are disjoint, distinct and in range, in every mode, over many seeds and sizes', () => {
    for (const trainType of ['quantiles', 'top', 'random', 'mix'] as const) {
      for (let seed = 0; seed < 150; seed++) {
        const n = 1 + new Prng(seed).int(400);
        const { train, test } = sampleExamples(n, seed % 7, { ...defaults, trainType, seed });
        const all = [...train, ...test];
        expect(new Set(all).size, `${trainType} seed ${seed} n ${n}`).toBe(all.length);
        expect(all.every((r) => Number.isInteger(r) && r >= 0 && r < n)).toBe(true);
        if (n >= 90) {
          // Each slice gives test its 5, or what train left of it.
          const left = perSlice([...Array(n).keys()], n, 10).map((size, i) => size - perSlice(train, n, 10)[i]!);
          expect(perSlice(test, n, 10)).toEqual(left.map((free) => Math.min(5, free)));
        } else {
          // Fewer windows than 40 + 50: shared 40:50 (drawing past empty quantile slices), so that test
          // examples remain to score on; every window is used.
          expect(train.length, `${trainType} seed ${seed} n ${n}`).toBe(Math.min(n, Math.max(1, Math.round((n * 40) / 90))));
          expect(test.length, `${trainType} seed ${seed} n ${n}`).toBe(n - train.length);
        }
        if (n >= 200 && trainType !== 'top' && trainType !== 'mix') expect([train.length, test.length]).toEqual([40, 50]);
      }
    }
  });

  test('two or three windows: one for train, the rest for test, in every mode (empty quantile slices are passed over)', () => {
    for (const trainType of ['quantiles', 'top', 'random', 'mix'] as const) {
      for (const feature of [0, 1, 2, 3]) {
        const two = sampleExamples(2, feature, { ...defaults, trainType });
        expect([two.train.length, two.test.length], `${trainType} ${feature}`).toEqual([1, 1]);
        expect([...two.train, ...two.test].sort()).toEqual([0, 1]);
        const three = sampleExamples(3, feature, { ...defaults, trainType });
        expect([three.train.length, three.test.length]).toEqual([1, 2]);
      }
    }
  });

  test('a feature with few windows shares them 40:50 between train and test', () => {
    const { train, test } = sampleExamples(18, 3, defaults);
    expect([train.length, test.length]).toEqual([8, 10]);
    expect(new Set([...train, ...test]).size).toBe(18);
  });

  test('test gets 5 per decile when the windows allow it', () => {
    const { test } = sampleExamples(1000, 0, defaults);
    expect(perSlice(test, 1000, 10)).toEqual(Array(10).fill(5));
  });

  test('reproducible from (seed, feature), different for another feature or seed', () => {
    const a = sampleExamples(900, 17, defaults);
    expect(sampleExamples(900, 17, defaults)).toEqual(a);
    expect(sampleExamples(900, 18, defaults)).not.toEqual(a);
    expect(sampleExamples(900, 17, { ...defaults, seed: 23 })).not.toEqual(a);
  });

  test('per-feature seeds are distinct across features and streams', () => {
    const seeds = new Set<number>();
    for (let feature = 0; feature < 2000; feature++) for (let stream = 0; stream < 3; stream++) seeds.add(featureSeed(22, feature, stream));
    expect(seeds.size).toBe(6000);
    expect(featureSeed(22, 5, 1)).toBe(featureSeed(22, 5, 1));
  });
});
