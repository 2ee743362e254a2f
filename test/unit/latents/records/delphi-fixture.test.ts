/**
 * Records of the delphi-layout fixture (test/fixtures/delphi/, written by an independent Python
 * script) against windows and normalized activations computed here from its expected.json alone:
 * grid and centred windows (peak at L - L/4, the last token under 4), odd half values (65504, subnormals, a negative), row starts kept and skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { describe, expect, test } from 'vitest';
import { delphiCacheReader, featureRecord, readDelphiFolder, type CacheReader, type Example, type WindowKind } from '../../../../src/lib/latents/index.ts';

const FIXTURE = join(import.meta.dirname, '../../../fixtures/delphi');

interface Expected {
  width: number;
  nRows: number;
  ctx: number;
  tokens: number[][];
  hooks: Record<string, { activations: { row: number; position: number; feature: number; value: number }[] }>;
}
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;

async function readers(): Promise<Map<string, CacheReader>> {
  const root = join(FIXTURE, 'tiny');
  const paths = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((path) => statSync(join(root, path)).isFile());
  const files = paths.map((path) => ({ path: `tiny/${path.split(sep).join('/')}`, blob: new Blob([readFileSync(join(root, path))]) }));
  return new Map((await readDelphiFolder(files)).map((hook) => [hook.hook, delphiCacheReader(hook)]));
}

/**
 * The feature's examples as the spec defines them, strongest window first: grid windows of `L`, or
 * each grid window's peak moved to L - L/4 within its row; values on the 0..10 scale of the max.
 */
function expectedExamples(hook: string, feature: number, L: number, kind: WindowKind, skipBos: boolean): Omit<Example, 'quantile'>[] {
  const { ctx } = expected;
  const acts = expected.hooks[hook]!.activations.filter((a) => a.feature === feature && !(skipBos && a.position === 0));
  const valueAt = new Map(acts.map((a) => [a.row * ctx + a.position, a.value]));
  const max = Math.max(...acts.map((a) => a.value));
  const grid = new Map<number, number[]>();
  for (const token of [...valueAt.keys()].sort((a, b) => a - b)) grid.set(Math.floor(token / L), [...(grid.get(Math.floor(token / L)) ?? []), token]);
  const starts: number[] = [];
  for (const [window, tokens] of grid) {
    if (kind === 'grid') starts.push(window * L);
    else {
      const peak = tokens.reduce((best, t) => (valueAt.get(t)! > valueAt.get(best)! ? t : best));
      const start = peak - Math.min(L - 1, L - Math.floor(L / 4));
      const rowStart = peak - (peak % ctx);
      if (start >= rowStart && start + L <= rowStart + ctx) starts.push(start);
    }
  }
  const windows = starts.map((start) => {
    const activations = Array.from({ length: L }, (_, i) => valueAt.get(start + i) ?? 0);
    const row = Math.floor(start / ctx);
    return {
      row,
      start: start % ctx,
      tokens: expected.tokens[row]!.slice(start % ctx, (start % ctx) + L),
      activations,
      normalized: activations.map((a) => (max > 0 && a > 0 ? Math.min(10, Math.ceil((10 * a) / max)) : 0)),
      max: Math.max(...activations.filter((_, i) => valueAt.has(start + i))),
    };
  });
  windows.sort((a, b) => b.max - a.max || a.row * ctx + a.start - (b.row * ctx + b.start));
  return windows.map(({ max: _, ...example }) => example);
}

const all = { minExamples: 0, nTrain: 1000, trainType: 'top' as const, nTest: 0 };

describe.each([
  ['grid, windows of 4', 4, 'grid'],
  ['grid, windows of 2', 2, 'grid'],
  ['grid, whole rows', 8, 'grid'],
  ['centred, windows of 2', 2, 'centred'],
  ['centred, windows of 4', 4, 'centred'],
  ['centred, windows of 8', 8, 'centred'],
] as const)('the fixture\'s records: %s', (_, L, kind) => {
  test.each([false, true])('every feature of both hooks, row starts skipped: %s', async (skipBos) => {
    for (const [hook, reader] of await readers()) {
      for (let feature = 0; feature < expected.width; feature++) {
        const record = await featureRecord(reader, feature, { ...all, exampleCtx: L, windows: kind, skipBosPosition: skipBos, nNonActivating: 100 });
        const examples = expectedExamples(hook, feature, L, kind, skipBos);
        expect(record.train.map(({ quantile: _, ...example }) => example), `${hook} feature ${feature}`).toEqual(examples);
        expect(record.n_windows).toBe(examples.length);
        const acts = expected.hooks[hook]!.activations.filter((a) => a.feature === feature && !(skipBos && a.position === 0));
        expect(record.n_activations).toBe(acts.length);
        expect(record.max_activation).toBe(acts.length ? Math.max(...acts.map((a) => a.value)) : 0);
        expect(record.hook).toBe(hook);
        // Negatives: every grid window where the feature does not fire (there are fewer than 100).
        const active = new Set(acts.map((a) => Math.floor((a.row * expected.ctx + a.position) / L)));
        const free = Array.from({ length: (expected.nRows * expected.ctx) / L }, (_, w) => w).filter((w) => !active.has(w));
        expect(record.non_activating.map((e) => (e.row * expected.ctx + e.start) / L)).toEqual(free);
      }
    }
  });
});

test('normalized values of the odd half values, computed by hand', async () => {
  const reader = (await readers()).get('layers.2')!;
  // Feature 39: 65504 at (0, 0) and 0.0999755859375 at (3, 0): 10 * 0.09998 / 65504 is tiny but positive, so 1.
  expect((await featureRecord(reader, 39, { ...all, exampleCtx: 4 })).train.map((e) => e.normalized)).toEqual([[10, 0, 0, 0], [1, 0, 0, 0]]);
  // Feature 12: 3.140625 at (0, 0) and -2.5 at (1, 6): the negative value is shown as 0.
  expect((await featureRecord(reader, 12, { ...all, exampleCtx: 4 })).train.map((e) => [e.activations, e.normalized])).toEqual([
    [[3.140625, 0, 0, 0], [10, 0, 0, 0]],
    [[0, 0, -2.5, 0], [0, 0, 0, 0]],
  ]);
  // Feature 20: a subnormal 2^-24 alone is its own max.
  expect((await featureRecord(reader, 20, { ...all, exampleCtx: 4 })).train[0]!.normalized).toEqual([0, 10, 0, 0]);
});
