import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { modelDims, parseGpt2Config } from '../../../src/lib/model/index.ts';
import { TINY_GPT2 } from '../../support/sae-fixtures.ts';

const FIXTURE = JSON.parse(readFileSync(join(TINY_GPT2, 'config.json'), 'utf8')) as Record<string, unknown>;
const REPO = 'autointerp-test/tiny-gpt2';
const SMALL = { model_type: 'gpt2', n_embd: 8, n_head: 2, n_layer: 1, vocab_size: 100 };
const code = (expected: string) => expect.objectContaining({ code: expected });

describe('parseGpt2Config', () => {
  test("reads the tiny fixture's config.json", () => {
    const config = parseGpt2Config(FIXTURE, REPO);
    expect(config).toEqual({
      modelType: 'gpt2', nLayer: 3, dModel: 64, nHead: 4, dMlp: 256, vocabSize: 4097, nPositions: 1024, bosTokenId: 4096, eosTokenId: 4096,
    });
    expect(modelDims(config)).toEqual({ dModel: 64, dMlp: 256, nHeads: 4, dHead: 16, nLayers: 3 });
  });

  test('another architecture is model/unsupported, naming it', () => {
    expect(() => parseGpt2Config({ ...FIXTURE, model_type: 'llama' }, 'meta/llama')).toThrow(expect.objectContaining({ code: 'model/unsupported', message: expect.stringMatching(/"meta\/llama" is a llama model/) }));
    expect(() => parseGpt2Config({ n_embd: 8 }, REPO)).toThrow(code('model/unsupported'));
  });

  test.each([
    ['missing n_embd', { n_embd: undefined }],
    ['n_layer zero', { n_layer: 0 }],
    ['fractional n_head', { n_head: 2.5 }],
    ['vocab_size as a string', { vocab_size: '100' }],
    ['n_embd not a multiple of n_head', { n_embd: 9 }],
  ])('%s is model/bad-config', (_, change) => {
    expect(() => parseGpt2Config({ ...SMALL, ...change }, REPO)).toThrow(code('model/bad-config'));
  });

  test('a config that is not an object is model/bad-config', () => {
    expect(() => parseGpt2Config(null, REPO)).toThrow(code('model/bad-config'));
    expect(() => parseGpt2Config('gpt2', REPO)).toThrow(code('model/bad-config'));
  });

  test('positions come from n_positions, else n_ctx, else 1024', () => {
    expect(parseGpt2Config({ ...SMALL, n_positions: 64, n_ctx: 32 }, REPO).nPositions).toBe(64);
    expect(parseGpt2Config({ ...SMALL, n_ctx: 32 }, REPO).nPositions).toBe(32);
    expect(parseGpt2Config(SMALL, REPO).nPositions).toBe(1024);
    expect(parseGpt2Config({ ...SMALL, n_positions: -1 }, REPO).nPositions).toBe(1024);
  });

  test('the MLP width is n_inner when given, else 4 * n_embd', () => {
    expect(parseGpt2Config({ ...SMALL, n_inner: 20 }, REPO).dMlp).toBe(20);
    expect(parseGpt2Config({ ...SMALL, n_inner: null }, REPO).dMlp).toBe(32);
    expect(parseGpt2Config(SMALL, REPO).dMlp).toBe(32);
  });

  test('BOS and EOS ids outside the vocabulary fall back to its last id', () => {
    expect(parseGpt2Config({ ...SMALL, bos_token_id: 0, eos_token_id: 7 }, REPO)).toMatchObject({ bosTokenId: 0, eosTokenId: 7 });
    expect(parseGpt2Config({ ...SMALL, bos_token_id: 100, eos_token_id: -1 }, REPO)).toMatchObject({ bosTokenId: 99, eosTokenId: 99 });
    expect(parseGpt2Config(SMALL, REPO)).toMatchObject({ bosTokenId: 99, eosTokenId: 99 });
  });
});
