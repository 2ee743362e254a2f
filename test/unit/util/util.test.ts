import { describe, expect, test } from 'vitest';
import { AppError } from '../../../src/lib/errors.ts';
import {
  basename, below, dirname, isSystemFile, monotonic, normalizePath, Prng, splitmix32, throwIfAborted, type Progress,
} from '../../../src/lib/util/index.ts';

describe('Prng', () => {
  const draws = (seed: number) => {
    const rng = new Prng(seed);
    return [rng.nextUint32(), rng.uniform(), rng.int(1000), rng.normal(), rng.normal(), ...rng.normals(3, 2, 1)];
  };

  test('the same seed gives the same numbers; another seed gives others', () => {
    expect(draws(42)).toEqual(draws(42));
    expect(draws(43)).not.toEqual(draws(42));
    // Seeds are taken as 32-bit unsigned integers.
    expect(draws(2 ** 32 + 42)).toEqual(draws(42));
  });

  test('the sequence is pinned, so seeded shuffles and fixtures stay the same on every platform and release', () => {
    const next = splitmix32(0);
    expect([next(), next(), next()]).toEqual([2462723854, 1020716019, 454327756]);
    const rng = new Prng(1);
    expect([rng.nextUint32(), rng.int(1000), rng.uniform()]).toEqual([2527132011, 336, 0.5903106565820053]);
  });

  test('int(bound) stays in [0, bound) and is roughly uniform', () => {
    const rng = new Prng(7);
    const bound = 10;
    const n = 50_000;
    const counts = new Array<number>(bound).fill(0);
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.int(bound);
      if (Number.isInteger(x) && x >= 0 && x < bound) counts[x]!++;
      else outside++;
    }
    expect(outside).toBe(0);
    // Chi-square with 9 degrees of freedom: 27.9 is its 0.1% tail.
    const expected = n / bound;
    const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(27.9);
    for (const b of [1, 3, 2 ** 31 + 1, 2 ** 32]) {
      for (let i = 0; i < 200; i++) {
        const x = rng.int(b);
        expect(x >= 0 && x < b && Number.isInteger(x)).toBe(true);
      }
    }
  });

  test('below() rejects the draws that would bias a modulo', () => {
    // With bound 3, 2^32 - 1 lies past the last whole block of three and must be redrawn.
    const queue = [2 ** 32 - 1, 5];
    expect(below(() => queue.shift()!, 3)).toBe(2);
    expect(queue).toEqual([]);
  });

  test('uniform is in (0, 1) and normals have about the asked mean and spread, one after another independent', () => {
    const rng = new Prng(3);
    for (let i = 0; i < 1000; i++) {
      const u = rng.uniform();
      expect(u > 0 && u < 1).toBe(true);
    }
    const values = rng.normals(20_000, 2, 5);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean - 5)).toBeLessThan(0.05);
    expect(Math.abs(sd - 2)).toBeLessThan(0.05);
    // Both values of each Box-Muller pair are used, and they are independent: no lag-1 correlation.
    let lag = 0;
    for (let i = 1; i < values.length; i++) lag += (values[i]! - mean) * (values[i - 1]! - mean);
    expect(Math.abs(lag / (values.length - 1) / sd ** 2)).toBeLessThan(0.05);
  });
});

describe('paths', () => {
  test.each([
    ['a\\b/./c//d', 'a/b/c/d'],
    ['/sae/cfg.json', 'sae/cfg.json'],
    ['./x/', 'x'],
    ['plain.txt', 'plain.txt'],
    ['', ''],
  ])('normalizePath(%j) is %j', (path, normalized) => {
    expect(normalizePath(path)).toBe(normalized);
  });

  test('basename and dirname split a normalized path at its last slash', () => {
    expect(basename('a/b/c.json')).toBe('c.json');
    expect(dirname('a/b/c.json')).toBe('a/b');
    expect(basename('c.json')).toBe('c.json');
    expect(dirname('c.json')).toBe('');
  });

  test.each([
    ['__MACOSX/sae/cfg.json', true],
    ['sae/__MACOSX/cfg.json', true],
    ['sae/._cfg.json', true],
    ['._ae.safetensors', true],
    ['sae\\._cfg.json', true],
    ['sae/cfg.json', false],
    ['my__MACOSX/cfg.json', false],
    ['sae/a._b.json', false],
  ])('isSystemFile(%j) is %s', (path, system) => {
    expect(isSystemFile(path)).toBe(system);
  });
});

describe('monotonic', () => {
  const record = () => {
    const seen: Progress[] = [];
    return { seen, report: monotonic<Progress>((p) => seen.push(p)) };
  };

  test('progress never goes down within a stage, and the total never drops below what is done', () => {
    const { seen, report } = record();
    report({ stage: 'download', done: 10, total: 100, text: 'a' });
    report({ stage: 'download', done: 5, total: 100, text: 'b' });
    report({ stage: 'download', done: 30, total: 20, text: 'c' });
    report({ stage: 'download', done: 25, text: 'd' });
    expect(seen).toEqual([
      { stage: 'download', done: 10, total: 100, text: 'a' },
      { stage: 'download', done: 10, total: 100, text: 'b' },
      { stage: 'download', done: 30, total: 30, text: 'c' },
      { stage: 'download', done: 30, text: 'd' },
    ]);
  });

  test('a new stage starts from its own numbers', () => {
    const { seen, report } = record();
    report({ stage: 'download', done: 90, total: 100, text: '' });
    report({ stage: 'tokenize', done: 3, total: 50, text: '' });
    report({ stage: 'tokenize', done: 1, total: 50, text: '' });
    report({ stage: 'download', done: 2, total: 100, text: '' });
    expect(seen.map((p) => [p.stage, p.done])).toEqual([['download', 90], ['tokenize', 3], ['tokenize', 3], ['download', 2]]);
  });

  test('extra fields pass through and no callback is fine', () => {
    const seen: (Progress & { tokensPerSecond: number })[] = [];
    monotonic<Progress & { tokensPerSecond: number }>((p) => seen.push(p))({ stage: 'encode', done: 1, text: '', tokensPerSecond: 12 });
    expect(seen[0]!.tokensPerSecond).toBe(12);
    expect(() => monotonic(undefined)({ stage: 'x', done: 1, text: '' })).not.toThrow();
  });
});

describe('throwIfAborted', () => {
  test('throws AppError cancelled once the signal has fired, and nothing before', () => {
    const controller = new AbortController();
    expect(() => throwIfAborted(controller.signal, 'Encoding')).not.toThrow();
    expect(() => throwIfAborted(undefined)).not.toThrow();
    controller.abort();
    let error: unknown;
    try {
      throwIfAborted(controller.signal, 'Encoding');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'cancelled', message: 'Encoding was cancelled.' });
    expect(() => throwIfAborted(AbortSignal.abort())).toThrow(expect.objectContaining({ code: 'cancelled', message: 'The operation was cancelled.' }));
  });
});
