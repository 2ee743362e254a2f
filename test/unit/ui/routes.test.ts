/** The page's hash routes and the features table's order, in Node (the browser tests drive them in the page). */
import { describe, expect, test } from 'vitest';
import { countQualifying, featureOrder, formatActivation, formatColumnActivation, formatDensity } from '../../../src/ui/state/feature-order.ts';
import { formatRoute, parseRoute, screenOf, type Route } from '../../../src/ui/state/route-hash.ts';

describe('routes', () => {
  test.each<[string, Route]>([
    ['', { screen: 'setup' }],
    ['#', { screen: 'setup' }],
    ['#/setup', { screen: 'setup' }],
    ['#/cache', { screen: 'cache' }],
    ['#/features', { screen: 'features' }],
    ['#/features/', { screen: 'features' }],
    ['#/features/cache-abc-12', { screen: 'features', runId: 'cache-abc-12' }],
    ['#/features/cache-abc-12/0', { screen: 'feature', runId: 'cache-abc-12', feature: 0 }],
    ['#/features/cache-abc-12/131071', { screen: 'feature', runId: 'cache-abc-12', feature: 131071 }],
    ['#/features/a%2Fb%20c/7', { screen: 'feature', runId: 'a/b c', feature: 7 }],
    // What it does not know: the table of the cache, or the setup screen.
    ['#/features/cache-abc-12/-1', { screen: 'features', runId: 'cache-abc-12' }],
    ['#/features/cache-abc-12/1.5', { screen: 'features', runId: 'cache-abc-12' }],
    ['#/features/cache-abc-12/7/extra', { screen: 'features', runId: 'cache-abc-12' }],
    ['#/nowhere', { screen: 'setup' }],
    ['#/cache/more', { screen: 'setup' }],
    ['#/features/%E0%A4%A/3', { screen: 'feature', runId: '%E0%A4%A', feature: 3 }],
    ['#/explain', { screen: 'explain' }],
    ['#/explain/cache-abc-12', { screen: 'explain', runId: 'cache-abc-12' }],
    ['#/results', { screen: 'results' }],
    ['#/results/', { screen: 'results' }],
    ['#/results/cache-abc-12', { screen: 'results', runId: 'cache-abc-12' }],
    ['#/results/a%2Fb%20c', { screen: 'results', runId: 'a/b c' }],
    ['#/results/cache-abc-12/3', { screen: 'results' }],
  ])('%s', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  test('formatting and parsing agree, and ids are escaped', () => {
    const routes: Route[] = [
      { screen: 'setup' }, { screen: 'cache' }, { screen: 'features' }, { screen: 'features', runId: 'a/b c#d' }, { screen: 'feature', runId: 'a/b c#d', feature: 42 },
      { screen: 'explain' }, { screen: 'explain', runId: 'a/b c#d' }, { screen: 'results' }, { screen: 'results', runId: 'a/b c#d' },
    ];
    for (const route of routes) expect(parseRoute(formatRoute(route))).toEqual(route);
    expect(formatRoute({ screen: 'feature', runId: 'a/b', feature: 3 })).toBe('#/features/a%2Fb/3');
    expect(formatRoute({ screen: 'results', runId: 'a/b' })).toBe('#/results/a%2Fb');
    expect(formatRoute({ screen: 'results' })).toBe('#/results');
  });

  test('a feature page belongs to the Features entry', () => {
    expect(screenOf({ screen: 'feature', runId: 'x', feature: 1 })).toBe('features');
    expect(screenOf({ screen: 'cache' })).toBe('cache');
    expect(screenOf({ screen: 'results', runId: 'x' })).toBe('results');
  });
});

describe('the features table order', () => {
  const columns = {
    width: 6,
    nnz: Uint32Array.from([5, 0, 9, 5, 1, 0]),
    windows: Uint32Array.from([3, 0, 4, 3, 1, 0]),
    max: Float32Array.from([2, 0, 7, 2, 9, 0]),
    mean: Float32Array.from([1, 0, 3, 1.5, 9, 0]),
  };
  test('sorts by a column, ties by index in both directions', () => {
    expect(Array.from(featureOrder(columns, 'max', 'desc'))).toEqual([4, 2, 0, 3, 1, 5]);
    expect(Array.from(featureOrder(columns, 'max', 'asc'))).toEqual([1, 5, 0, 3, 2, 4]);
    expect(Array.from(featureOrder(columns, 'density', 'desc'))).toEqual([2, 0, 3, 4, 1, 5]);
    expect(Array.from(featureOrder(columns, 'mean', 'desc'))).toEqual([4, 2, 3, 0, 1, 5]);
    expect(Array.from(featureOrder(columns, 'index', 'desc'))).toEqual([5, 4, 3, 2, 1, 0]);
  });
  test('filters dead features and those with too few windows', () => {
    expect(Array.from(featureOrder(columns, 'index', 'asc', { hideDead: true }))).toEqual([0, 2, 3, 4]);
    expect(Array.from(featureOrder(columns, 'index', 'asc', { minWindows: 3 }))).toEqual([0, 2, 3]);
    expect(countQualifying(columns, 3)).toBe(3);
    expect(countQualifying(columns, 0)).toBe(4); // a dead feature is never explained
  });
  test('131072 features sort in order, ties by index (how fast is for npm run bench -- --only table)', () => {
    const width = 131072;
    const max = Float32Array.from({ length: width }, (_, f) => (f * 7919) % 1000);
    const big = { width, nnz: new Uint32Array(width).fill(1), windows: new Uint32Array(width).fill(1), max, mean: max };
    const order = featureOrder(big, 'max', 'desc');
    expect(order).toHaveLength(width);
    let unordered = 0;
    for (let i = 1; i < width; i++) if (max[order[i - 1]!]! < max[order[i]!]! || (max[order[i - 1]!] === max[order[i]!] && order[i - 1]! > order[i]!)) unordered++;
    expect(unordered).toBe(0);
  });
  test('numbers as the table writes them', () => {
    expect(formatDensity(0)).toBe('0');
    expect(formatDensity(0.529)).toBe('52.9 %');
    expect(formatDensity(0.0308)).toBe('3.08 %');
    expect(formatDensity(0.00001)).toBe('1.0e-5');
    expect(formatActivation(3.5)).toBe('3.5');
    expect(formatActivation(2)).toBe('2');
    // In a table column the digits are kept: 3.00 beside 3.25, not 3.
    expect([3, 3.25, 0.5, 12.345, 0, 1234.5].map(formatColumnActivation)).toEqual(['3.00', '3.25', '0.500', '12.3', '0', '1,235']);
    expect(formatActivation(0.7182)).toBe('0.718');
    expect(formatActivation(999.7)).toBe('1,000');
    expect(formatActivation(12345.6)).toBe('12,346');
    expect(formatActivation(0.0001234)).toBe('1.23e-4');
    expect(formatActivation(-1.5)).toBe('-1.5');
  });
});
