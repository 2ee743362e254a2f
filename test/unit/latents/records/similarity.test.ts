/**
 * Neighbours on constructed cases: cosine of weight vectors in both layouts, and window Jaccard,
 * exact and estimated by MinHash signatures from the cache.
 */
import { describe, expect, test } from 'vitest';
import { cosineNeighbours, jaccardNeighbours, minHashSketches, windowJaccard, type FeatureVectors } from '../../../../src/lib/latents/index.ts';
import { Prng } from '../../../../src/lib/util/index.ts';
import { memoryReader, type Entry } from './caches.ts';

/** Rows as vectors, in the layout asked for. */
function vectors(rows: number[][], layout: FeatureVectors['layout']): FeatureVectors {
  const width = rows.length;
  const dim = rows[0]!.length;
  const data = new Float32Array(width * dim);
  rows.forEach((row, f) => row.forEach((x, d) => (data[layout === 'feature-major' ? f * dim + d : d * width + f] = x)));
  return { data, width, dim, layout };
}

describe('cosine neighbours', () => {
  const rows = [
    [1, 0, 0],
    [0.9, 0.1, 0],
    [0, 1, 0],
    [-1, 0, 0],
    [0, 0, 0],
    [2, 0, 0.5],
  ];

  test.each(['feature-major', 'dim-major'] as const)('most similar first, itself left out, zero vectors at 0 (%s)', (layout) => {
    const out = cosineNeighbours(vectors(rows, layout), 0, 5);
    expect(out.map((n) => n.feature)).toEqual([1, 5, 2, 4, 3]);
    expect(out[0]!.similarity).toBeCloseTo(0.9 / Math.sqrt(0.82), 6); // 0.994
    expect(out[1]!.similarity).toBeCloseTo(2 / Math.sqrt(4.25), 6); // 0.970
    expect(out[4]!.similarity).toBeCloseTo(-1, 6);
    expect(cosineNeighbours(vectors(rows, layout), 2, 1)).toEqual([{ feature: 1, similarity: expect.closeTo(0.1 / Math.sqrt(0.82), 6) }]);
  });

  test('a matrix of the wrong size is refused', () => {
    expect(() => cosineNeighbours({ data: new Float32Array(5), width: 2, dim: 3, layout: 'feature-major' }, 0)).toThrow(/not 2 features x 3/);
  });
});

describe('co-occurrence (window Jaccard)', () => {
  test('exact, over increasing window lists', () => {
    expect(windowJaccard(Uint32Array.of(1, 2, 3, 4), Uint32Array.of(3, 4, 5))).toBeCloseTo(2 / 5);
    expect(windowJaccard(Uint32Array.of(1), Uint32Array.of(2))).toBe(0);
    expect(windowJaccard(new Uint32Array(0), new Uint32Array(0))).toBe(0);
  });

  // Windows of 4 tokens, 40 windows. Feature 0 fires in windows 0-9, feature 1 in 0-8 (Jaccard 0.9),
  // feature 2 in 5-14 (5/15), feature 3 in 20-29 (0), feature 4 never.
  const entries: Entry[] = [];
  const fire = (feature: number, from: number, to: number) => {
    for (let w = from; w <= to; w++) entries.push([w * 4 + (feature % 4), feature, 1]);
  };
  fire(0, 0, 9);
  fire(1, 0, 8);
  fire(2, 5, 14);
  fire(3, 20, 29);
  const reader = memoryReader({ tokens: new Uint32Array(160), ctx: 16, width: 5, entries });

  test('MinHash neighbours rank by Jaccard; disjoint and silent features are left out', async () => {
    // Sketches of 8 of 9 or 10 windows: estimates, near 0.9 and 1/3.
    const minHash = await minHashSketches(reader, { exampleCtx: 4, sketchSize: 8 });
    expect(Array.from(minHash.sizes)).toEqual([10, 9, 10, 10, 0]);
    const out = jaccardNeighbours(minHash, 0, 10);
    expect(out.map((n) => n.feature)).toEqual([1, 2]);
    expect(out[0]!.similarity).toBeGreaterThan(0.6);
    expect(out[1]!.similarity).toBeLessThan(0.6);
    expect(jaccardNeighbours(minHash, 4, 10)).toEqual([]);
  });

  test('sketches larger than the window sets give the exact Jaccard', async () => {
    const minHash = await minHashSketches(reader, { exampleCtx: 4, sketchSize: 64 });
    expect(jaccardNeighbours(minHash, 0, 10)).toEqual([{ feature: 1, similarity: 0.9 }, { feature: 2, similarity: 1 / 3 }]);
    expect(jaccardNeighbours(minHash, 3, 10)).toEqual([]);
  });

  test('MinHash estimates agree with the exact Jaccard on random window sets', async () => {
    const prng = new Prng(5);
    const sets = Array.from({ length: 16 }, () => [...new Set(Array.from({ length: 30 + prng.int(60) }, () => prng.int(120)))].sort((a, b) => a - b));
    const random: Entry[] = sets.flatMap((windows, f) => windows.map((w): Entry => [w * 8 + 1, f, 1]));
    const minHash = await minHashSketches(memoryReader({ tokens: new Uint32Array(960), ctx: 32, width: 16, entries: random }), { exampleCtx: 8, sketchSize: 24 });
    const errors: number[] = [];
    for (let f = 0; f < 16; f++) {
      const estimates = jaccardNeighbours(minHash, f, 16);
      for (let g = 0; g < 16; g++) {
        if (g === f) continue;
        const exact = windowJaccard(Uint32Array.from(sets[f]!), Uint32Array.from(sets[g]!));
        errors.push((estimates.find((n) => n.feature === g)?.similarity ?? 0) - exact);
      }
    }
    // Standard error about sqrt(J (1 - J) / 24), 0.1 here; no bias.
    expect(Math.abs(errors.reduce((a, b) => a + b, 0) / errors.length)).toBeLessThan(0.02);
    expect(Math.sqrt(errors.reduce((a, b) => a + b * b, 0) / errors.length)).toBeLessThan(0.11);
  });

  test('scoring only the features that share a sketch hash gives what comparing every sketch gives', async () => {
    const prng = new Prng(9);
    const width = 300;
    // Sparse features over 2000 windows: most pairs share no window, some share many.
    const random: Entry[] = [];
    for (let f = 0; f < width; f++) {
      const base = prng.int(1900);
      for (let i = 0; i < 5 + prng.int(80); i++) random.push([(base + prng.int(100)) * 8 + 1, f, 1]);
    }
    const unique = [...new Map(random.map((e) => [`${e[0]}:${e[1]}`, e])).values()];
    const minHash = await minHashSketches(memoryReader({ tokens: new Uint32Array(16000), ctx: 32, width, entries: unique }), { exampleCtx: 8, sketchSize: 16 });
    const { sketchSize: K, sketches, sizes } = minHash;
    const bruteForce = (f: number) => {
      const scores: { feature: number; similarity: number }[] = [];
      for (let g = 0; g < width; g++) {
        if (g === f) continue;
        const a = Array.from(sketches.subarray(f * K, f * K + Math.min(K, sizes[f]!)));
        const b = Array.from(sketches.subarray(g * K, g * K + Math.min(K, sizes[g]!)));
        const union = [...new Set([...a, ...b])].sort((x, y) => x - y).slice(0, K);
        const both = union.filter((h) => a.includes(h) && b.includes(h)).length;
        if (union.length && both) scores.push({ feature: g, similarity: both / union.length });
      }
      return scores.sort((x, y) => y.similarity - x.similarity || x.feature - y.feature).slice(0, 10);
    };
    for (const f of [0, 17, 150, 299]) expect(jaccardNeighbours(minHash, f, 10)).toEqual(bruteForce(f));
  });
});
