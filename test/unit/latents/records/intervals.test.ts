/** Equal-width activation intervals on a hand-computed feature, and their place on the feature page. */
import { expect, test } from 'vitest';
import { activationIntervals, featurePage, gridWindows, type FeatureActivations } from '../../../../src/lib/latents/index.ts';
import { memoryReader, type Entry } from './caches.ts';

// Windows of 4. Values 10 (w0), 9 and 1 (w1), 6 (w2), 2.5 (w3), 2 (w4), 0.5 (w5).
const feature: FeatureActivations = {
  tokens: Uint32Array.of(1, 4, 6, 9, 13, 17, 22),
  values: Float32Array.of(10, 9, 1, 6, 2.5, 2, 0.5),
};

test('(0, max] in equal parts: each part\'s share of the activations and windows whose max is in it', () => {
  const windows = gridWindows(feature, 4); // ranks: 10, 9, 6, 2.5, 2, 0.5
  const intervals = activationIntervals(feature, windows, 10, { intervals: 4, perInterval: 2 });
  expect(intervals.map((i) => [i.low, i.high])).toEqual([[0, 2.5], [2.5, 5], [5, 7.5], [7.5, 10]]);
  // [0, 2.5): 1, 2, 0.5 | [2.5, 5): 2.5 | [5, 7.5): 6 | [7.5, 10]: 9, 10
  expect(intervals.map((i) => i.count)).toEqual([3, 1, 1, 2]);
  expect(intervals.map((i) => i.share)).toEqual([3 / 7, 1 / 7, 1 / 7, 2 / 7]);
  // Window maxes per part: [0, 2.5): 2, 0.5 (ranks 4, 5) | 2.5 (rank 3) | 6 (rank 2) | 10, 9 (ranks 0, 1)
  expect(intervals.map((i) => i.windowRanks)).toEqual([[4, 5], [3], [2], [0, 1]]);
});

test('a few windows spread over a part with many; an empty part has none', () => {
  const many: FeatureActivations = { tokens: Uint32Array.from({ length: 10 }, (_, i) => 4 * i), values: Float32Array.from({ length: 10 }, (_, i) => 10 - i * 0.1) };
  const intervals = activationIntervals(many, gridWindows(many, 4), 10, { intervals: 2, perInterval: 3 });
  expect(intervals.map((i) => i.windowRanks)).toEqual([[], [0, 3, 6]]);
  expect(intervals[1]!.share).toBe(1);
});

test('the feature page: quantile groups and intervals with examples', async () => {
  const entries: Entry[] = Array.from(feature.tokens, (t, i): Entry => [t, 1, feature.values[i]!]);
  const reader = memoryReader({ tokens: Uint32Array.from({ length: 24 }, (_, i) => i + 100), ctx: 8, width: 2, entries });
  const page = await featurePage(reader, 1, { exampleCtx: 4, nQuantiles: 3, minExamples: 0 }, { intervals: 4, perInterval: 2, perGroup: 1 });
  expect(page.quantiles.map((q) => [q.quantile, q.fromRank, q.toRank, q.highest, q.lowest])).toEqual([[0, 0, 2, 10, 9], [1, 2, 4, 6, 2.5], [2, 4, 6, 2, 0.5]]);
  expect(page.quantiles.map((q) => q.examples.map((e) => [e.row, e.start, e.quantile]))).toEqual([[[0, 0, 0]], [[1, 0, 1]], [[2, 0, 2]]]);
  expect(page.intervals[3]!.examples.map((e) => e.activations)).toEqual([[0, 10, 0, 0], [9, 0, 1, 0]]);
  expect(page.intervals[0]!.examples[0]).toEqual({ row: 2, start: 0, tokens: [116, 117, 118, 119], activations: [0, 2, 0, 0], normalized: [0, 2, 0, 0], quantile: 2 });
  expect(page.record.n_windows).toBe(6);
});
