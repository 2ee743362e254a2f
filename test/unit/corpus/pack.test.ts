/**
 * Row packing as delphi does it: EOS in front of every document, rows of ctx tokens, the last partial
 * row dropped, a token budget in whole rows, prependBos, the seeded shuffle, the streaming variant,
 * and the real tiny GPT-2 tokenizer on the hub fixture's documents.
 */
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorCode } from '../../../src/lib/errors.ts';
import {
  packRowStream,
  packRows,
  previewRows,
  rowShuffleOrder,
  shuffleRows,
  type PackStats,
  type RowBatch,
  type Tokenizer,
} from '../../../src/lib/corpus/index.ts';
import { CORPUS_DOCUMENTS } from '../../../scripts/fixtures/corpus.ts';
import { failure } from '../../support/async.ts';

const ROOT = join(import.meta.dirname, '../../..');

/** One token per character (its code point); EOS 0. Easy to read in expectations. */
const chars: Tokenizer = { encode: (text) => [...text].map((c) => c.codePointAt(0)!), eosTokenId: 0 };
const ids = (text: string) => [...text].map((c) => (c === '|' ? 0 : c === '^' ? 1 : c.codePointAt(0)!));
/** Rows written as strings: '|' is EOS (0), '^' is BOS (1). */
const rowsOf = (...rows: string[]) => Uint32Array.from(rows.flatMap(ids));

const DOCS = ['abc', 'de', 'fghij'];

describe('packRows', () => {
  it('joins documents with EOS (one in front), cuts rows and drops the last partial row', async () => {
    const packed = await packRows(DOCS, chars, { ctx: 4, shuffle: false });
    expect(packed.tokens).toEqual(rowsOf('|abc', '|de|', 'fghi'));
    expect(packed.nRows).toBe(3);
    expect(packed.shuffleSeed).toBeUndefined();
    expect(packed.stats).toEqual<PackStats>({
      documents: 3, emptyDocuments: 0, streamTokens: 13, rows: 3, tokens: 12, maxRows: 2_500_000,
      droppedTokens: 1, insertedBos: 0, filteredBos: 0, budgetReached: false,
    });
  });

  it('stops at the budget, rounded down to whole rows, without reading further documents', async () => {
    let pulled = 0;
    let closed = false;
    async function* many() {
      try {
        for (let i = 0; i < 1000; i++) {
          pulled++;
          yield DOCS[i % 3]!;
        }
      } finally {
        closed = true;
      }
    }
    const packed = await packRows(many(), chars, { ctx: 4, maxTokens: 11, shuffle: false });
    expect(packed.tokens).toEqual(rowsOf('|abc', '|de|'));
    expect(packed.stats).toMatchObject({ rows: 2, tokens: 8, maxRows: 2, budgetReached: true, documents: 3, streamTokens: 13, droppedTokens: 5 });
    expect(pulled).toBe(3);
    expect(closed).toBe(true);
  });

  it('packs the whole corpus when the budget is larger, in an exactly sized matrix', async () => {
    const docs = Array.from({ length: 500 }, (_, i) => `document ${i}: ${'x'.repeat(i % 13)}`);
    const packed = await packRows(docs, chars, { ctx: 16, maxTokens: 1e9, shuffle: false });
    const stream = docs.flatMap((d) => [0, ...chars.encode(d)]);
    expect(packed.nRows).toBe(Math.floor(stream.length / 16));
    expect(packed.tokens.length).toBe(packed.nRows * 16);
    expect(packed.tokens.buffer.byteLength).toBe(packed.nRows * 16 * 4);
    expect([...packed.tokens]).toEqual(stream.slice(0, packed.nRows * 16));
    expect(packed.stats).toMatchObject({ budgetReached: false, droppedTokens: stream.length % 16, documents: 500 });
  });

  it('keeps token ids above 65535 and skips empty documents', async () => {
    const packed = await packRows(['', '🤖🎉', '', 'ab'], chars, { ctx: 3, shuffle: false });
    expect([...packed.tokens]).toEqual([0, 0x1f916, 0x1f389, 0, 97, 98]);
    expect(packed.stats).toMatchObject({ documents: 2, emptyDocuments: 2 });
  });

  it('prependBos with BOS = EOS: the separator serves as the row BOS, never two in a row', async () => {
    const packed = await packRows(DOCS, chars, { ctx: 4, prependBos: true, shuffle: false });
    expect(packed.tokens).toEqual(rowsOf('|abc', '|de|', '|fgh'));
    expect(packed.stats).toMatchObject({ rows: 3, insertedBos: 1, streamTokens: 13, droppedTokens: 2 });
  });

  it('prependBos with a distinct BOS: every row starts with it, then ctx-1 stream tokens', async () => {
    const packed = await packRows(DOCS, chars, { ctx: 4, prependBos: true, bosTokenId: 1, shuffle: false });
    expect(packed.tokens).toEqual(rowsOf('^|ab', '^c|d', '^e|f', '^ghi'));
    expect(packed.stats).toMatchObject({ rows: 4, insertedBos: 4, droppedTokens: 1 });
  });

  it('filterBos removes the BOS a tokenizer adds to every document', async () => {
    const addsBos: Tokenizer = { encode: (t) => [1, ...chars.encode(t)], eosTokenId: 0, bosTokenId: 1 };
    const packed = await packRows(DOCS, addsBos, { ctx: 4, filterBos: true, shuffle: false });
    expect(packed.tokens).toEqual(rowsOf('|abc', '|de|', 'fghi'));
    expect(packed.stats.filteredBos).toBe(3);
  });

  it('refuses a corpus smaller than one row and impossible options', async () => {
    const small = await failure(() => packRows(['ab', ''], chars, { ctx: 4 }));
    expect(errorCode(small)).toBe('corpus/too-small');
    expect(small.message).toContain('3 tokens in 1 documents (1 empty)');
    expect(errorCode(await failure(() => packRows(DOCS, chars, { ctx: 4, maxTokens: 3 })))).toBe('corpus/bad-options');
    expect(errorCode(await failure(() => packRows(DOCS, chars, { ctx: 1 })))).toBe('corpus/bad-options');
    expect(errorCode(await failure(() => packRows(DOCS, { ...chars, eosTokenId: -1 })))).toBe('corpus/bad-options');
    const controller = new AbortController();
    controller.abort();
    expect(errorCode(await failure(() => packRows(DOCS, chars, { ctx: 4, signal: controller.signal })))).toBe('cancelled');
  });
});

describe('the seeded shuffle', () => {
  it('is a fixed permutation for a seed, on every platform', () => {
    expect([...rowShuffleOrder(10, 22)]).toEqual([0, 1, 6, 5, 9, 8, 7, 4, 2, 3]);
    expect([...rowShuffleOrder(10, 23)]).toEqual([7, 2, 0, 6, 9, 8, 1, 5, 4, 3]);
    expect([...rowShuffleOrder(1000, 5)].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('moves whole rows: shuffled row i is unshuffled row order[i]; same seed, same matrix', async () => {
    const docs = Array.from({ length: 200 }, (_, i) => `row material ${i}`);
    const plain = await packRows(docs, chars, { ctx: 8, shuffle: false });
    const a = await packRows(docs, chars, { ctx: 8 });
    const b = await packRows(docs, chars, { ctx: 8, seed: 22 });
    const c = await packRows(docs, chars, { ctx: 8, seed: 7 });
    expect(a.shuffleSeed).toBe(22);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).not.toEqual(c.tokens);
    expect(a.tokens).not.toEqual(plain.tokens);
    const order = rowShuffleOrder(plain.nRows, 22);
    for (let i = 0; i < plain.nRows; i++) {
      expect(a.tokens.subarray(i * 8, i * 8 + 8)).toEqual(plain.tokens.subarray(order[i]! * 8, order[i]! * 8 + 8));
    }
    expect(shuffleRows(plain.tokens.slice(), 8, 7)).toEqual(c.tokens);
  });
});

describe('packRowStream', () => {
  async function batches(docs: string[], options: Parameters<typeof packRowStream>[2]): Promise<RowBatch[]> {
    const out: RowBatch[] = [];
    for await (const batch of packRowStream(docs, chars, options)) out.push(batch);
    return out;
  }
  const docs = Array.from({ length: 40 }, (_, i) => `streamed document ${i}`);

  it('yields rows in stream order as they fill, the final stats on the last batch', async () => {
    const progress: number[] = [];
    const out = await batches(docs, { ctx: 16, batchRows: 8, onProgress: (s) => progress.push(s.rows) });
    const whole = await packRows(docs, chars, { ctx: 16, shuffle: false });
    expect(whole.nRows).toBe(51);
    expect(out.map((b) => b.nRows)).toEqual([8, 8, 8, 8, 8, 8, 3]);
    expect(out.map((b) => b.firstRow)).toEqual([0, 8, 16, 24, 32, 40, 48]);
    expect(out.map((b) => b.last)).toEqual([false, false, false, false, false, false, true]);
    expect(out.every((b) => b.tokens.length === b.nRows * 16)).toBe(true);
    const joined = new Uint32Array(whole.tokens.length);
    for (const b of out) joined.set(b.tokens, b.firstRow * 16);
    expect(joined).toEqual(whole.tokens);
    expect(out.at(-1)!.stats).toEqual(whole.stats);
    expect(progress).toEqual([8, 16, 24, 32, 40, 48, 51]);
  });

  it('ends with an empty last batch when the corpus ends exactly at a batch edge', async () => {
    const out = await batches(['abc', 'abc'], { ctx: 4, batchRows: 2 });
    expect(out.map((b) => [b.nRows, b.last, b.tokens.length])).toEqual([[2, false, 8], [0, true, 0]]);
    expect(out[1]!.stats).toMatchObject({ rows: 2, droppedTokens: 0, budgetReached: false });
  });

  it('ends with a full last batch when the budget fills one', async () => {
    const out = await batches(docs, { ctx: 16, batchRows: 4, maxTokens: 8 * 16 + 5 });
    expect(out.map((b) => [b.nRows, b.last])).toEqual([[4, false], [4, true]]);
    expect(out[1]!.stats).toMatchObject({ rows: 8, budgetReached: true });
  });
});

interface HfTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  eos_token_id: number;
}

describe('with the tiny GPT-2 tokenizer', () => {
  let hf: HfTokenizer;
  let tokenizer: Tokenizer;
  const texts = CORPUS_DOCUMENTS.map((d) => d.text);

  beforeAll(async () => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${join(ROOT, 'test/fixtures/hub')}/`;
    hf = (await AutoTokenizer.from_pretrained('autointerp-test/tiny-gpt2')) as unknown as HfTokenizer;
    tokenizer = { encode: (text) => hf.encode(text), eosTokenId: hf.eos_token_id };
  });

  it('packs the corpus into rows that decode back to the documents joined by <|endoftext|>', async () => {
    expect(tokenizer.eosTokenId).toBe(4096);
    const packed = await packRows(texts, tokenizer, { ctx: 64, shuffle: false });
    const streamLength = texts.reduce((n, t) => n + 1 + hf.encode(t).length, 0);
    expect(packed.nRows).toBe(Math.floor(streamLength / 64));
    expect(packed.stats.droppedTokens).toBe(streamLength % 64);
    const decoded = hf.decode([...packed.tokens]);
    const joined = texts.map((t) => `<|endoftext|>${t}`).join('');
    expect(joined.startsWith(decoded)).toBe(true);
    expect(decoded.length).toBeGreaterThan(joined.length * 0.9);
  });

  it('with prependBos every row starts with <|endoftext|>', async () => {
    const packed = await packRows(texts, tokenizer, { ctx: 32, prependBos: true, maxTokens: 32 * 50 });
    expect(packed.nRows).toBe(50);
    for (let r = 0; r < packed.nRows; r++) {
      expect(packed.tokens[r * 32]).toBe(4096);
      expect(packed.tokens[r * 32 + 1]).not.toBe(4096);
    }
  });

  it('previews rows as text and per-token pieces', async () => {
    const packed = await packRows(texts, tokenizer, { ctx: 16, shuffle: false, maxTokens: 64 });
    const preview = previewRows(packed.tokens, 16, (ids) => hf.decode(ids), 2, 1);
    expect(preview.map((p) => p.row)).toEqual([1, 2]);
    expect(preview[0]!.tokens).toEqual([...packed.tokens.subarray(16, 32)]);
    expect(preview[0]!.pieces.join('')).toBe(preview[0]!.text);
    expect(previewRows(packed.tokens, 16, (ids) => hf.decode(ids))[0]!.text.startsWith('<|endoftext|>The market')).toBe(true);
    expect(previewRows(packed.tokens, 16, (ids) => hf.decode(ids), 10, 3)).toHaveLength(1);
  });
});
