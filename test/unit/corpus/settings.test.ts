/** The corpus numbers as a form holds them: row length, token budget, seed, each refused with a message naming it. */
import { describe, expect, it } from 'vitest';
import { checkCorpusNumbers, MIN_CTX, parseParquetPaths } from '../../../src/lib/corpus/index.ts';

describe('checkCorpusNumbers', () => {
  it('accepts whole numbers, as numbers or as typed text', () => {
    expect(checkCorpusNumbers({ ctx: 256, maxTokens: 1_000_000, seed: 22 })).toEqual({ ok: true, numbers: { ctx: 256, maxTokens: 1_000_000, seed: 22 }, errors: {} });
    expect(checkCorpusNumbers({ ctx: ' 8 ', maxTokens: '8', seed: '-3' }, 1024)).toMatchObject({ ok: true, numbers: { ctx: 8, maxTokens: 8, seed: -3 } });
    expect(checkCorpusNumbers({ ctx: 1024, maxTokens: 1024, seed: 0 }, 1024).ok).toBe(true);
  });

  it('refuses an empty, fractional, too short or too long row length', () => {
    const ctxError = (ctx: unknown, max?: number) => checkCorpusNumbers({ ctx: ctx as number, maxTokens: 5000, seed: 22 }, max).errors.ctx;
    expect(ctxError('')).toBe(`Tokens per row: enter a whole number ${MIN_CTX} or more.`);
    expect(ctxError(undefined, 1024)).toBe('Tokens per row: enter a whole number from 8 to 1024.');
    expect(ctxError(null)).toMatch(/^Tokens per row: enter/);
    expect(ctxError('12.5')).toBe('Tokens per row: "12.5" is not a whole number 8 or more.');
    expect(ctxError(Number.NaN)).toMatch(/is not a whole number/);
    expect(ctxError('abc')).toMatch(/"abc" is not a whole number/);
    expect(ctxError(3)).toBe('Tokens per row: at least 8.');
    expect(ctxError(7)).toBe('Tokens per row: at least 8.');
    expect(ctxError(1025, 1024)).toBe('Tokens per row: at most 1024, the longest row the model takes.');
    expect(ctxError(100_000)).toBeUndefined(); // no model, no maximum
    expect(checkCorpusNumbers({ ctx: 3, maxTokens: 5000, seed: 22 }).ok).toBe(false);
  });

  it('wants a budget of at least one row and a whole seed', () => {
    expect(checkCorpusNumbers({ ctx: 32, maxTokens: 16, seed: 22 }).errors).toEqual({ maxTokens: 'Token budget: at least the row length (32), so that one row fits.' });
    expect(checkCorpusNumbers({ ctx: 32, maxTokens: '', seed: 22 }).errors.maxTokens).toBe('Token budget: enter a whole number, at least the row length (32).');
    expect(checkCorpusNumbers({ ctx: 32, maxTokens: 1e21, seed: 22 }).errors.maxTokens).toMatch(/is not a whole number/);
    // With no valid row length, the budget is held to the shortest row.
    expect(checkCorpusNumbers({ ctx: '', maxTokens: 4, seed: 22 }).errors.maxTokens).toMatch(/at least the row length \(8\)/);
    expect(checkCorpusNumbers({ ctx: 32, maxTokens: 64, seed: 1.5 }).errors).toEqual({ seed: 'Shuffle seed: "1.5" is not a whole number.' });
    expect(checkCorpusNumbers({ ctx: 32, maxTokens: 64, seed: undefined }).errors).toEqual({ seed: 'Shuffle seed: enter a whole number.' });
  });
});

describe('parseParquetPaths', () => {
  it('splits on commas and drops blanks', () => {
    expect(parseParquetPaths(' data/train-0.parquet,data/train-1.parquet , ,')).toEqual(['data/train-0.parquet', 'data/train-1.parquet']);
    expect(parseParquetPaths('   ')).toEqual([]);
  });
});
