/**
 * `npm run cache`: the headless command drives the app in Chromium and writes delphi's layout. Its output
 * must hold exactly the rows the corpus stage packs and the activations the reference encoder gives.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { expect, test } from 'vitest';
import { packRows, readTextFile } from '../../src/lib/corpus/index.ts';
import { decodeDelphiSplit, readDelphiFolder } from '../../src/lib/latents/index.ts';
import { detectSaes, loadSaeWeights } from '../../src/lib/sae/index.ts';
import { expectedCodes, FIXTURES, fixtureFiles, TINY_GPT2 } from '../support/sae-fixtures.ts';

const root = resolve(import.meta.dirname, '../..');

test('the headless cache command writes a delphi cache equal to the reference', async () => {
  const out = mkdtempSync(join(tmpdir(), 'autointerp-cli-'));
  try {
    const corpus = join(FIXTURES, 'corpus/paragraphs.txt');
    const log = execFileSync('npx', ['tsx', 'scripts/cache-cli.ts', '--model', TINY_GPT2, '--sae', join(FIXTURES, 'sae/saelens-topk'), '--dataset', corpus, '--tokens', '4096', '--ctx', '64', '--splits', '3', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(log).toMatch(/cached \d+ tokens/);

    const files = readdirSync(join(out, 'blocks.2.hook_resid_post')).map((name) => ({ path: `blocks.2.hook_resid_post/${name}`, blob: new Blob([readFileSync(join(out, 'blocks.2.hook_resid_post', name))]) }));
    const [hook] = await readDelphiFolder(files);
    expect(hook!.splits.map((s) => `${s.start}_${s.end}`)).toEqual(['0_41', '42_84', '85_127']);
    expect(hook!.config).toMatchObject({ cache_ctx_len: 64, n_splits: 3, model_name: 'local/model' });

    // The same rows as the corpus stage packs in Node with the same tokenizer, budget and seed.
    env.allowRemoteModels = false;
    env.localModelPath = join(FIXTURES, 'hub/');
    const tokenizer = await AutoTokenizer.from_pretrained('autointerp-test/tiny-gpt2');
    const packed = await packRows(readTextFile(new Blob([readFileSync(corpus)])), { encode: (t) => tokenizer.encode(t, { add_special_tokens: false }), eosTokenId: 4096 }, { ctx: 64, maxTokens: 4096, seed: 22, prependBos: true });
    expect(Array.from(hook!.tokens)).toEqual(Array.from(packed.tokens));

    const { candidates } = await detectSaes(fixtureFiles('saelens-topk').map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
    const spec = candidates[0]!.spec;
    const rows = Array.from({ length: packed.nRows }, (_, r) => Array.from(packed.tokens.subarray(r * 64, (r + 1) * 64)));
    const { codes } = await expectedCodes(spec, await loadSaeWeights(candidates[0]!, spec), rows);
    const expected = new Map<string, number>();
    codes.forEach((code, t) => code.indices.forEach((f, i) => expected.set(`${Math.floor(t / 64)},${t % 64},${f}`, code.values[i]!)));
    let seen = 0;
    for (const split of hook!.splits) {
      const data = await decodeDelphiSplit(split.blob, split.path, { tokens: false, nRows: hook!.nRows, ctx: hook!.ctx });
      for (let i = 0; i < data.features.length; i++) {
        const want = expected.get(`${data.rows[i]},${data.positions[i]},${data.features[i]}`);
        expect(want).toBeDefined();
        expect(Math.abs(data.values[i]! - want!)).toBeLessThan(1e-3 * Math.abs(want!) + 1e-4);
        seen++;
      }
    }
    expect(seen).toBe(expected.size);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the headless command refuses rows the model cannot take, and numbers that are not numbers, saying why', () => {
  const run = (ctx: string, extra: string[] = []) => spawnSync('npx', ['tsx', 'scripts/cache-cli.ts', '--model', TINY_GPT2, '--sae', join(FIXTURES, 'sae/saelens-topk'), '--dataset', join(FIXTURES, 'corpus/paragraphs.txt'), '--tokens', '4096', '--ctx', ctx, '--out', join(tmpdir(), 'autointerp-cli-refused'), ...extra], { cwd: root, encoding: 'utf8' });
  const small = run('3');
  expect(small.status).toBe(2);
  expect(small.stderr).toMatch(/Tokens per row: at least 8/);
  const long = run('2000');
  expect(long.status).toBe(1);
  expect(long.stderr).toMatch(/^Rows of 2,000 tokens are longer than the model reads at once \(1,024 positions\)/m);
  const misspelt = run('64', ['--precision', 'half']);
  expect(misspelt.status).toBe(2);
  expect(misspelt.stderr).toMatch(/--precision: "half" is not float32 or float16/);
  // SwiftShader has no shader-f16: the worker refuses float16, and the command says so.
  const half = run('64', ['--precision', 'float16']);
  expect(half.status).toBe(1);
  expect(half.stderr).toMatch(/shader-f16.*encode in float32/);
});
