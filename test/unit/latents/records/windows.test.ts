/**
 * Example windows on hand-computed cases: the fixed grid, centred windows at the row edges and with
 * context from the neighbouring grid window, the row-start (BOS) rule, and reading windows back.
 */
import { describe, expect, test } from 'vitest';
import { Prng } from '../../../../src/lib/util/index.ts';
import { activeGridWindows, centredWindows, gridWindows, prepareFeature, recordOptions, tokensIn, valuesIn, type FeatureActivations } from '../../../../src/lib/latents/index.ts';

const acts = (pairs: [number, number][]): FeatureActivations => ({ tokens: Uint32Array.from(pairs, (p) => p[0]), values: Float32Array.from(pairs, (p) => p[1]) });
const pairs = (w: { starts: Uint32Array; maxes: Float32Array }) => Array.from(w.starts, (s, i) => [s, w.maxes[i]]);

// Rows of 8 tokens, windows of 4: tokens 0-3 | 4-7 || 8-11 | 12-15 || 16-19 | 20-23
const feature = acts([[1, 1], [2, 3], [6, 2], [9, 5], [15, 0.5], [16, 4], [23, 1]]);

describe('grid windows', () => {
  test('one window per grid cell the feature fires in, strongest first, each with its max', () => {
    const windows = gridWindows(feature, 4);
    expect(windows.length).toBe(4);
    expect(pairs(windows)).toEqual([[8, 5], [16, 4], [0, 3], [4, 2], [20, 1], [12, 0.5]]);
  });

  test('equal maxima keep the earlier window first; a window of the whole row is one window', () => {
    expect(pairs(gridWindows(acts([[3, 2], [5, 2], [12, 2]]), 4))).toEqual([[0, 2], [4, 2], [12, 2]]);
    expect(pairs(gridWindows(feature, 8))).toEqual([[8, 5], [16, 4], [0, 3]]);
  });

  test('the order is by max then start, for any values: negative, zero, equal, tiny, huge', () => {
    const prng = new Prng(7);
    const choices = [-3, -1e-7, -0, 0, 1e-7, 0.5, 2, 2, 65504, 3e38];
    const tokens = Uint32Array.from({ length: 3000 }, (_, i) => 4 * i + prng.int(4));
    const values = Float32Array.from(tokens, () => choices[prng.int(choices.length)]! * (prng.int(5) === 0 ? prng.uniform() : 1));
    const windows = gridWindows({ tokens, values }, 4);
    const naive = Array.from(tokens, (t, i) => [t - (t % 4), values[i]!]).sort((a, b) => b[1]! - a[1]! || a[0]! - b[0]!);
    expect(pairs(windows)).toEqual(naive);
  });

  test('more than 2^21 windows (past the packed sort key) are ordered the same way', () => {
    const n = 2 ** 21 + 3;
    const tokens = Uint32Array.from({ length: n }, (_, i) => 2 * i);
    const values = Float32Array.from({ length: n }, (_, i) => (i * 7919) % 5);
    const { starts, maxes } = gridWindows({ tokens, values }, 2);
    expect(starts.length).toBe(n);
    let ordered = true;
    for (let i = 1; i < n && ordered; i++) ordered = maxes[i - 1]! > maxes[i]! || (maxes[i - 1] === maxes[i] && starts[i - 1]! < starts[i]!);
    expect(ordered).toBe(true);
    expect([maxes[0], starts[0], maxes[n - 1]]).toEqual([4, values.indexOf(4) * 2, 0]);
  });

  test('the active grid windows, by index', () => {
    expect(Array.from(activeGridWindows(feature, 4))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(activeGridWindows(feature, 8))).toEqual([0, 1, 2]);
  });
});

describe('centred windows', () => {
  test('the peak at L - L/4 (the last of 4), windows that would cross the row start or end dropped', () => {
    // Peaks: 2 (start -1: before row 0), 6 (start 3), 9 (start 6: before row 1 at 8), 15 (start 12),
    // 16 (start 13: before row 2 at 16), 23 (start 20).
    expect(pairs(centredWindows(feature, 4, 8))).toEqual([[3, 2], [20, 1], [12, 0.5]]);
  });

  test('the peak at 6 of 8, with this feature\'s activations from the neighbouring grid window', () => {
    // Rows of 16, windows of 8: grid windows [0, 8) (peak 3) and [8, 16) (peak 9).
    const f = acts([[3, 1], [9, 4], [10, 2]]);
    const windows = centredWindows(f, 8, 16);
    expect(pairs(windows)).toEqual([[3, 4]]); // [0, 8): peak 3 would start at -3
    expect(Array.from(valuesIn(f, 3, 8))).toEqual([1, 0, 0, 0, 0, 0, 4, 2]);
  });

  test('at the row end: a peak on the last token of a row has no context after it', () => {
    expect(pairs(centredWindows(acts([[15, 1]]), 8, 16))).toEqual([]);
    expect(pairs(centredWindows(acts([[14, 1]]), 8, 16))).toEqual([[8, 1]]);
    // Ties: the first of equal maxima is the peak.
    expect(pairs(centredWindows(acts([[12, 1], [14, 1]]), 8, 16))).toEqual([[6, 1]]);
  });

  test('L - L/4 rounds L/4 down (5 of 6); under 4 tokens the peak is the last one (1 of 2), not past it', () => {
    expect(pairs(centredWindows(acts([[9, 1]]), 6, 12))).toEqual([[4, 1]]);
    expect(pairs(centredWindows(acts([[9, 1]]), 2, 12))).toEqual([[8, 1]]);
  });

  test('the max of a centred window counts every token in it, also past its grid window', () => {
    // Grid [8, 16) peaks at 9 (value 4); the centred window [3, 11) also holds token 3 with 6 > 4.
    const f = acts([[3, 6], [9, 4]]);
    expect(pairs(centredWindows(f, 8, 16))).toEqual([[3, 6]]);
  });
});

describe('row starts (BOS)', () => {
  test('skipped when asked: activations at position 0 of a row count nowhere', () => {
    const raw = acts([[0, 100], [5, 1], [8, 50], [9, 2]]);
    const options = recordOptions({ exampleCtx: 4, skipBosPosition: true }, { ctx: 8, prependBos: false });
    const prepared = prepareFeature(3, raw, options, 8);
    expect(Array.from(prepared.activations.tokens)).toEqual([5, 9]);
    expect(prepared.max).toBe(2);
    expect(pairs(prepared.windows)).toEqual([[8, 2], [4, 1]]);
    expect(Array.from(valuesIn(prepared.activations, 8, 4))).toEqual([0, 2, 0, 0]);
  });

  test('kept by default for rows without BOS, skipped by default for rows with BOS', () => {
    const raw = acts([[0, 100], [5, 1]]);
    expect(prepareFeature(0, raw, recordOptions({ exampleCtx: 4 }, { ctx: 8, prependBos: false }), 8).max).toBe(100);
    expect(prepareFeature(0, raw, recordOptions({ exampleCtx: 4 }, { ctx: 8, prependBos: true }), 8).max).toBe(1);
  });
});

test('a window read back: tokens of the matrix, the feature\'s values with 0 elsewhere', () => {
  const matrix = Uint32Array.from({ length: 24 }, (_, i) => 100 + i);
  expect(tokensIn(matrix, 8, 4)).toEqual([108, 109, 110, 111]);
  expect(Array.from(valuesIn(feature, 0, 4))).toEqual([0, 1, 3, 0]);
  expect(Array.from(valuesIn(feature, 20, 4))).toEqual([0, 0, 0, 1]);
});

test('options: without a window length, 32 where it divides the rows, else the longest under 32 that does', () => {
  expect(recordOptions({}, { ctx: 256, prependBos: false }).exampleCtx).toBe(32);
  expect(recordOptions({}, { ctx: 100, prependBos: false }).exampleCtx).toBe(25);
  expect(recordOptions({}, { ctx: 16, prependBos: false }).exampleCtx).toBe(16);
  expect(recordOptions({}, { ctx: 37, prependBos: false }).exampleCtx).toBe(1);
});

test('options: the window must divide the row; choices and counts are checked', () => {
  const cache = { ctx: 64, prependBos: false };
  expect(recordOptions({}, cache)).toMatchObject({ exampleCtx: 32, windows: 'grid', nTrain: 40, nTest: 50, nQuantiles: 10, nNonActivating: 50, minExamples: 200, seed: 22, skipBosPosition: false });
  expect(() => recordOptions({ exampleCtx: 24 }, cache)).toThrow(/must divide the cache's rows of 64 tokens.*4, 8, 16, 32, 64/);
  expect(() => recordOptions({ windows: 'middle' as 'grid' }, cache)).toThrow(/windows must be one of grid, centred/);
  expect(() => recordOptions({ nTrain: -1 }, cache)).toThrow(/nTrain/);
  expect(recordOptions({ seed: undefined }, cache).seed).toBe(22);
});
