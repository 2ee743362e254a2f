/**
 * Simulation metrics by hand: Pearson's r, undefined (null) for constant sides, fewer than two values
 * or non-finite values, never 0, NaN or a throw; the pooled correlation over all tokens concatenated
 * against the mean of per-sequence ones; per quantile; failed sequences left out.
 */
import { describe, expect, test } from 'vitest';
import { meanSequencePearson, pearson, pooledPearson, sequencePearsons, simulationMetrics } from '../../../src/lib/metrics/index.ts';

describe('pearson', () => {
  test('by hand: x = 1, 2, 3 and y = 2, 4, 7 give 5 / sqrt(2 * 38/3)', () => {
    expect(pearson([1, 2, 3], [2, 4, 7])).toBeCloseTo(5 / Math.sqrt((2 * 38) / 3), 12);
  });

  test('exact lines give 1 and -1; the scale of either side does not matter', () => {
    expect(pearson([0, 1, 2, 3], [5, 7, 9, 11])).toBeCloseTo(1, 12);
    expect(pearson([0, 1, 2, 3], [3, 2, 1, 0])).toBeCloseTo(-1, 12);
    expect(pearson([0, 2, 5], [0, 0.2, 0.5])).toBeCloseTo(1, 12);
  });

  test.each([
    ['a constant prediction', [0, 1, 5], [3, 3, 3]],
    ['constant truths (a non-activating sequence)', [0, 0, 0], [1, 0, 4]],
    ['both constant', [0, 0], [0, 0]],
    ['one value', [1], [2]],
    ['no values', [], []],
    ['lengths that differ', [1, 2, 3], [1, 2]],
    ['a NaN', [1, Number.NaN, 3], [1, 2, 3]],
    ['an infinity', [1, 2, 3], [1, Infinity, 3]],
  ])('undefined for %s: null', (_, x, y) => {
    expect(pearson(x, y)).toBeNull();
  });

  test('large values stay in [-1, 1]', () => {
    const r = pearson([1e12, 1e12 + 1, 1e12 + 2], [3e-9, 4e-9, 5e-9])!;
    expect(r).toBeLessThanOrEqual(1);
    expect(r).toBeCloseTo(1, 6);
  });
});

describe('pooled against per sequence', () => {
  // Each sequence alone is a perfect line; pooled, the second one's high baseline ruins it.
  const sequences = [
    { activations: [0, 10], predicted: [0, 1], distance: 0 },
    { activations: [0, 10], predicted: [9, 10], distance: 1 },
  ];

  test('per sequence: 1 and 1; pooled over the four tokens: 10 / sqrt(100 * 82)', () => {
    expect(sequencePearsons(sequences)).toEqual([1, 1]);
    expect(meanSequencePearson(sequences)).toBe(1);
    expect(pooledPearson(sequences)).toBeCloseTo(10 / Math.sqrt(100 * 82), 12);
  });

  test('the score is the pooled one; per quantile pools within the quantile', () => {
    const m = simulationMetrics([...sequences, { activations: [0, 0], predicted: [0, 3], distance: -1 }]);
    expect(m.pearson).toBeCloseTo(pooledPearson([...sequences, { activations: [0, 0], predicted: [0, 3] }])!, 12);
    expect(m.per_sequence_mean).toBe(1); // the non-activating sequence's r is undefined: left out
    expect(m.per_quantile).toEqual([
      { distance: 0, sequences: 1, scored: 1, pearson: 1 },
      { distance: 1, sequences: 1, scored: 1, pearson: 1 },
      { distance: -1, sequences: 1, scored: 1, pearson: null },
    ]);
    expect(m).toMatchObject({ failed: 0, sequences: 3, tokens: 6 });
  });

  test('sequences without a prediction are left out and counted as failed', () => {
    const m = simulationMetrics([{ activations: [0, 5, 10], predicted: [1, 4, 9], distance: 0 }, { activations: [0, 9, 1], predicted: null, distance: 0 }]);
    expect(m.pearson).toBeCloseTo(pearson([0, 5, 10], [1, 4, 9])!, 12);
    expect(m).toMatchObject({ failed: 1, sequences: 1, tokens: 3 });
    expect(m.per_quantile).toEqual([{ distance: 0, sequences: 2, scored: 1, pearson: m.pearson }]);
  });

  test('nothing predicted, or predictions all the same: null, and serialisable', () => {
    expect(simulationMetrics([{ activations: [0, 1], predicted: null }]).pearson).toBeNull();
    const flat = simulationMetrics([{ activations: [0, 1, 0], predicted: [0, 0, 0] }, { activations: [4, 0, 0], predicted: [0, 0, 0] }]);
    expect(flat.pearson).toBeNull();
    expect(flat.per_sequence_mean).toBeNull();
    expect(JSON.parse(JSON.stringify(flat))).toEqual(flat);
  });
});
