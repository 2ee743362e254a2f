/**
 * The features table's filters and its sort by score columns, over hand-made columns: density range,
 * explained or not, the explanation search, a scorer's score range, NaN and unscored features last
 * in both directions, ties by index, and filters combined.
 */
import { describe, expect, test } from 'vitest';
import {
  explanationColumn, featureOrder, filterFeatures, formatScore, scoreSortKey, scorerOfSortKey, sortFeatures, type FeatureColumns, type ScoreColumn,
} from '../../../src/ui/state/feature-order.ts';

const NONE = Number.NaN;

/** A score column from values per feature; `null` = not scored, NaN = scored but undefined. */
function scoreColumn(scorer: string, values: (number | null)[]): ScoreColumn {
  return {
    scorer,
    values: Float32Array.from(values, (v) => (v === null ? NONE : v)),
    scored: Uint8Array.from(values, (v) => (v === null ? 0 : 1)),
  };
}

// Eight features over 1000 tokens: densities 0.5 %, 0, 2 %, 1 %, 10 %, 0, 2 %, 0.1 %.
const explanations = { 0: 'Commas in lists', 2: 'The word "the"', 3: 'closing COMMA of a clause', 4: 'numbers', 6: 'Capital letters' };
const columns: FeatureColumns = {
  width: 8,
  nTokens: 1000,
  nnz: Uint32Array.from([5, 0, 20, 10, 100, 0, 20, 1]),
  windows: Uint32Array.from([3, 0, 8, 5, 40, 0, 8, 1]),
  max: Float32Array.from([2, 0, 7, 2, 9, 0, 3, 1]),
  mean: Float32Array.from([1, 0, 3, 1.5, 4, 0, 2, 1]),
  scores: [
    //                               0     1     2     3     4    5     6     7
    scoreColumn('detection', [0.75, null, 0.5, 0.75, NONE, null, 0.9, 0.6]),
    scoreColumn('simulation', [null, null, 0.1, -0.2, 0.4, null, null, null]),
  ],
  explained: explanationColumn(explanations, 8),
};
const order = (...args: Parameters<typeof featureOrder> extends [unknown, ...infer R] ? R : never) => Array.from(featureOrder(columns, ...args));

describe('the explanation column', () => {
  test('marks the explained features and keeps their text lower-cased, in index order; features beyond the width are left out', () => {
    const column = explanationColumn({ 10: 'Too far', 3: 'Three', 1: 'ONE' }, 8);
    expect(Array.from(column.has)).toEqual([0, 1, 0, 1, 0, 0, 0, 0]);
    expect(Array.from(column.features)).toEqual([1, 3]);
    expect(column.lowered).toEqual(['one', 'three']);
  });
});

describe('the filters', () => {
  test('no filter keeps every feature in index order', () => {
    expect(Array.from(filterFeatures(columns))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
  test('density range, bounds inclusive, either open', () => {
    expect(order('index', 'asc', { density: { min: 0.01 } })).toEqual([2, 3, 4, 6]);
    expect(order('index', 'asc', { density: { max: 0.01 } })).toEqual([0, 1, 3, 5, 7]);
    expect(order('index', 'asc', { density: { min: 0.005, max: 0.02 } })).toEqual([0, 2, 3, 6]);
    expect(order('index', 'asc', { density: { min: 0.5 } })).toEqual([]);
    // NaN bounds are open (an empty field).
    expect(order('index', 'asc', { density: { min: Number.NaN, max: undefined } })).toHaveLength(8);
  });
  test('has an explanation, or has none', () => {
    expect(order('index', 'asc', { explained: true })).toEqual([0, 2, 3, 4, 6]);
    expect(order('index', 'asc', { explained: false })).toEqual([1, 5, 7]);
    // Without explanations loaded: none has one.
    const bare = { ...columns, explained: undefined };
    expect(Array.from(featureOrder(bare, 'index', 'asc', { explained: true }))).toEqual([]);
    expect(Array.from(featureOrder(bare, 'index', 'asc', { explained: false }))).toHaveLength(8);
  });
  test('the search is a case-insensitive substring of the explanation; blank searches nothing', () => {
    expect(order('index', 'asc', { search: 'comma' })).toEqual([0, 3]);
    expect(order('index', 'asc', { search: '  COMMA ' })).toEqual([0, 3]);
    expect(order('index', 'asc', { search: '"the"' })).toEqual([2]);
    expect(order('index', 'asc', { search: 'no such words' })).toEqual([]);
    expect(order('index', 'asc', { search: '   ' })).toHaveLength(8);
    expect(order('index', 'asc', { search: '' })).toHaveLength(8);
  });
  test('a score range keeps the features scored within it, never an unscored or undefined one', () => {
    expect(order('index', 'asc', { score: { scorer: 'detection', min: 0.75 } })).toEqual([0, 3, 6]);
    expect(order('index', 'asc', { score: { scorer: 'detection', max: 0.6 } })).toEqual([2, 7]);
    expect(order('index', 'asc', { score: { scorer: 'detection', min: 0.6, max: 0.75 } })).toEqual([0, 3, 7]);
    expect(order('index', 'asc', { score: { scorer: 'simulation', max: 0 } })).toEqual([3]);
    expect(order('index', 'asc', { score: { scorer: 'simulation', min: -1 } })).toEqual([2, 3, 4]);
    // A scorer with no bound filters nothing; a scorer the table lacks lets none through a bound.
    expect(order('index', 'asc', { score: { scorer: 'detection' } })).toHaveLength(8);
    expect(order('index', 'asc', { score: { scorer: 'fuzzing', min: 0 } })).toEqual([]);
  });
  test('filters combine (all must pass), with hide dead and the minimum of windows', () => {
    expect(order('index', 'asc', { hideDead: true })).toEqual([0, 2, 3, 4, 6, 7]);
    expect(order('index', 'asc', { minWindows: 5 })).toEqual([2, 3, 4, 6]);
    expect(order('index', 'asc', { explained: true, density: { max: 0.015 } })).toEqual([0, 3]);
    expect(order('index', 'asc', { search: 'c', score: { scorer: 'detection', min: 0.7 } })).toEqual([0, 3, 6]);
    expect(order('index', 'asc', { search: 'c', score: { scorer: 'detection', min: 0.7 }, density: { min: 0.01 } })).toEqual([3, 6]);
    expect(order('index', 'asc', { explained: false, hideDead: true })).toEqual([7]);
    expect(order('index', 'asc', { minWindows: 5, explained: true, search: 'the', score: { scorer: 'simulation', min: 0 } })).toEqual([2]);
  });
});

describe('sorting by a score column', () => {
  const key = scoreSortKey('detection');
  test('the key names its scorer', () => {
    expect(key).toBe('score:detection');
    expect(scorerOfSortKey(key)).toBe('detection');
    expect(scorerOfSortKey('max')).toBeUndefined();
  });
  test('best first, ties by index, undefined (NaN) and unscored last in index order', () => {
    // 6: 0.9; 0, 3: 0.75 (tie); 7: 0.6; 2: 0.5; then 1 (unscored), 4 (NaN), 5 (unscored).
    expect(order(key, 'desc')).toEqual([6, 0, 3, 7, 2, 1, 4, 5]);
  });
  test('ascending: worst first, ties still by index, the unscored still last', () => {
    expect(order(key, 'asc')).toEqual([2, 7, 0, 3, 6, 1, 4, 5]);
  });
  test('negative correlations sort below zero', () => {
    expect(order(scoreSortKey('simulation'), 'desc')).toEqual([4, 2, 3, 0, 1, 5, 6, 7]);
    expect(order(scoreSortKey('simulation'), 'asc')).toEqual([3, 2, 4, 0, 1, 5, 6, 7]);
  });
  test('after the filters', () => {
    expect(order(key, 'desc', { explained: true })).toEqual([6, 0, 3, 2, 4]);
    expect(order(key, 'asc', { search: 'comma' })).toEqual([0, 3]);
  });
  test('a score column the table lacks leaves the index order', () => {
    expect(order(scoreSortKey('fuzzing'), 'desc')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
  test('sortFeatures does not change the array it is given', () => {
    const features = Uint32Array.from([0, 2, 6]);
    expect(Array.from(sortFeatures(columns, features, key, 'desc'))).toEqual([6, 0, 2]);
    expect(Array.from(sortFeatures(columns, features, 'index', 'desc'))).toEqual([6, 2, 0]);
    expect(Array.from(features)).toEqual([0, 2, 6]);
  });
  test('131072 features, a third unscored: sorted in order, unscored last, filters exact (speed: npm run bench -- --only table)', () => {
    const width = 131072;
    const values = Float32Array.from({ length: width }, (_, f) => (f % 3 === 0 ? Number.NaN : ((f * 7919) % 1000) / 1000));
    const scored = Uint8Array.from({ length: width }, (_, f) => (f % 3 === 0 ? 0 : 1));
    const texts: Record<number, string> = {};
    for (let f = 0; f < width; f += 2) texts[f] = `Explanation number ${f} about ${f % 5 === 0 ? 'commas' : 'words'}`;
    const big: FeatureColumns = {
      width, nTokens: width, nnz: new Uint32Array(width).fill(1), windows: new Uint32Array(width).fill(1), max: new Float32Array(width), mean: new Float32Array(width),
      scores: [{ scorer: 'detection', values, scored }], explained: explanationColumn(texts, width),
    };
    const sorted = featureOrder(big, key, 'desc');
    const searched = featureOrder(big, key, 'asc', { search: 'COMMAS', score: { scorer: 'detection', min: 0.5 } });
    expect(sorted).toHaveLength(width);
    const defined = Math.round((width * 2) / 3);
    let unordered = 0;
    for (let i = 1; i < sorted.length; i++) {
      const [a, b] = [sorted[i - 1]!, sorted[i]!];
      const [x, y] = [values[a]!, values[b]!];
      if (Number.isNaN(x) ? !(Number.isNaN(y) && a < b) : !Number.isNaN(y) && (x < y || (x === y && a > b))) unordered++;
    }
    expect(unordered).toBe(0);
    expect(Number.isNaN(values[sorted[defined]!]!)).toBe(true);
    expect(Number.isNaN(values[sorted[defined - 1]!]!)).toBe(false);
    expect(searched.length).toBeGreaterThan(0);
    for (const f of searched) expect(f % 10 === 0 && values[f]! >= 0.5).toBe(true);
  });
});

describe('scores as the table writes them', () => {
  test('two decimals; undefined is n/a, never 0', () => {
    expect(formatScore(0.75)).toBe('0.75');
    expect(formatScore(1)).toBe('1.00');
    expect(formatScore(-0.126)).toBe('-0.13');
    expect(formatScore(Number.NaN)).toBe('n/a');
    expect(formatScore(null)).toBe('n/a');
    expect(formatScore(undefined)).toBe('n/a');
  });
});

describe('the radix sort agrees with a comparator sort', () => {
  /** The order the table promises: by value (reversed for desc), ties and equal values by index, NaN last by index. */
  function reference(values: ArrayLike<number>, features: number[], direction: 'asc' | 'desc'): number[] {
    const sign = direction === 'asc' ? 1 : -1;
    return [...features].sort((a, b) => {
      const [x, y] = [values[a]!, values[b]!];
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) === Number.isNaN(y) ? a - b : Number.isNaN(x) ? 1 : -1;
      return x !== y ? sign * (x - y) : a - b;
    });
  }

  test('floats of every sign and size, -0, infinities, duplicates and NaN; counts above 65535; both directions', () => {
    let seed = 11;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const width = 5000;
    const specials = [0, -0, Infinity, -Infinity, Number.NaN, 1e-30, -1e-30, 3.5, -3.5, 1e30];
    const max = Float32Array.from({ length: width }, (_, f) => (f % 7 === 0 ? specials[f % specials.length]! : (next() - 0.5) * 10 ** Math.floor(next() * 8 - 4)));
    const mean = Float32Array.from({ length: width }, (_, f) => Math.round(next() * 20) / 4); // many equal values
    const nnz = Uint32Array.from({ length: width }, () => Math.floor(next() * 200_000)); // both 16-bit digits in use
    const windows = Uint32Array.from({ length: width }, () => Math.floor(next() * 30)); // the high digit the same for all
    const columns: FeatureColumns = { width, nnz, windows, max, mean, scores: [{ scorer: 'detection', values: max, scored: new Uint8Array(width).fill(1) }] };
    const features = Uint32Array.from({ length: width }, (_, f) => f).filter((f) => f % 3 !== 1); // a filtered subset
    for (const [key, values] of [['max', max], ['mean', mean], ['density', nnz], ['windows', windows], ['score:detection', max]] as const) {
      for (const direction of ['asc', 'desc'] as const) {
        const got = Array.from(sortFeatures(columns, features, key, direction));
        // -0 and +0 are one value: the reference compares them equal, so they tie by index.
        expect(got, `${key} ${direction}`).toEqual(reference(values, Array.from(features), direction));
      }
    }
  });
});
