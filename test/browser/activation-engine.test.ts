/**
 * The activation engine on real WebGPU (SwiftShader) in the worker, with the tiny GPT-2 loaded from the
 * hub stand-in: hook activations against the float64 reference forward, and every SAE fixture's sparse
 * output against the reference encoder; malformed and mismatched SAEs give their specific errors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceForward } from '../support/reference-gpt2.ts';
import { detectSaes, loadSaeWeights, planChunkedTopK } from '../../src/lib/sae/index.ts';
import { encodeSafetensors } from '../../src/lib/formats/index.ts';
import { makeSae, TINY_GPT2 as TINY_DIMS } from '../../scripts/fixtures/saes.ts';
import { type SparseLike, compareCodes, expectedCodes, fixtureFiles, SAE_FIXTURES, tinyGpt2Weights, tokenRows, VALID_SAE_FIXTURES } from '../support/sae-fixtures.ts';
import { appUrl, hubUrl, launch, type Browser } from './harness.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
  await browser.page.goto(appUrl());
  await browser.page.evaluate(async (hub) => {
    await (globalThis as any).autointerp.engine.loadModel({ repo: 'autointerp-test/tiny-gpt2', hubUrl: hub });
  }, hubUrl());
});
afterAll(async () => {
  await browser?.close();
});

/** Opens a fixture folder in the page as dropped Files, returning the engine's result or its error. */
async function openInPage(fixture: string) {
  const files = fixtureFiles(fixture).map((f) => ({ path: f.path, base64: Buffer.from(f.bytes).toString('base64') }));
  return browser.page.evaluate(async (files) => {
    const decoded = files.map((f) => ({ path: f.path, blob: new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.path.split('/').pop()!) }));
    try {
      return { ok: await (globalThis as any).autointerp.engine.openSaeFiles(decoded) };
    } catch (error) {
      return { error: `[${(error as any).code}] ${(error as Error).message}` };
    }
  }, files);
}

async function encodeInPage(id: string, rows: number[][], options: Record<string, unknown> = {}) {
  return browser.page.evaluate(async ({ id, rows, options }) => {
    const { engine } = (globalThis as any).autointerp;
    try {
      const ready = await engine.selectSae(id, options);
      const sparse = await engine.encode(rows);
      return { ready, cap: await engine.encoderCap(), offsets: Array.from(sparse.offsets as Uint32Array), features: Array.from(sparse.features as Uint32Array), values: Array.from(sparse.values as Float32Array) };
    } catch (error) {
      return { error: `[${(error as any).code}] ${(error as Error).message}` };
    }
  }, { id, rows, options });
}

describe('hook activations on WebGPU', () => {
  const hooks = ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_mid', 'blocks.2.hook_resid_post', 'blocks.1.hook_attn_out', 'blocks.2.hook_mlp_out', 'blocks.1.mlp.hook_post', 'blocks.2.attn.hook_z'];
  test('every hook point at several layers matches the reference forward within 1e-4', async () => {
    const rows = tokenRows(2, 16, 7);
    const reference = referenceForward(await tinyGpt2Weights(), rows).hooks;
    for (const hookName of hooks) {
      const gpu = await browser.page.evaluate(async ({ hookName, rows }) => {
        const out = await (globalThis as any).autointerp.engine.hookActivations(hookName, rows);
        return { dims: out.dims, data: Array.from(out.data as Float32Array) };
      }, { hookName, rows });
      const expected = reference.get(hookName)!;
      expect(gpu.data.length, hookName).toBe(expected.length);
      const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(gpu.data[i]! - v)), 0);
      expect(scale, hookName).toBeGreaterThan(0.05);
      expect(worst / scale, hookName).toBeLessThan(1e-4);
    }
    expect((await browser.page.evaluate(() => (globalThis as any).autointerp.engine.gpuDevice()))?.toLowerCase()).toContain('swiftshader');
  });
});

describe('SAE encoding on WebGPU', () => {
  test.each(VALID_SAE_FIXTURES)('%s: the same active features and values (1e-4) as the reference encoder', async (fixture) => {
    const opened = await openInPage(fixture);
    expect(opened.error).toBeUndefined();
    const { candidates } = await detectSaes(fixtureFiles(fixture).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
    expect(opened.ok.choices.map((c: { id: string }) => c.id)).toEqual(candidates.map((c) => c.id));
    for (const candidate of candidates) {
      // What a user would set for the settings the files leave open.
      const overrides = { normalizationScale: candidate.spec.normalizationScale ?? 1.5, centerResidual: candidate.spec.centerResidual ?? true };
      const spec = { ...candidate.spec, ...overrides };
      const rows = tokenRows(3, 16, fixture.length + 3);
      // Split W_enc into blocks of 40 columns, as a large SAE is split to fit the GPU's buffer limit.
      const result = await encodeInPage(candidate.id, rows, { maxTensorBytes: spec.dIn * 4 * 40, overrides });
      expect(result.error).toBeUndefined();
      expect(result.ready.encoderBlocks).toBe(Math.ceil(spec.width / 40));
      const { codes } = await expectedCodes(spec, await loadSaeWeights(candidate, spec), rows);
      const comparison = compareCodes(result as SparseLike, codes);
      expect(comparison.activeTotal).toBeGreaterThan(3 * 16);
      expect(comparison.mismatchedTokens).toBe(0);
      expect(comparison.worstRelative).toBeLessThan(1e-4);
    }
  });

  test('an SAE with settings left open is refused until the user sets them', async () => {
    const opened = await openInPage('saelens-jumprelu');
    expect(opened.ok.choices[0].spec.missing).toEqual(['centerResidual']);
    const result = await encodeInPage(opened.ok.choices[0].id, tokenRows(1, 4));
    expect(result.error).toMatch(/\[sae\/bad-config\] Set these before encoding: centerResidual/);
  });

  test('a ReLU SAE whose tokens exceed the cap is re-run with a larger cap: nothing is dropped', async () => {
    const opened = await openInPage('saelens-standard');
    const id = opened.ok.choices[0].id;
    const rows = tokenRows(2, 16, 11);
    const result = await encodeInPage(id, rows, { initialCap: 2 });
    expect(result.error).toBeUndefined();
    expect(result.cap).toBeGreaterThan(2);
    const { candidates } = await detectSaes(fixtureFiles('saelens-standard').map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
    const { codes } = await expectedCodes(candidates[0]!.spec, await loadSaeWeights(candidates[0]!, candidates[0]!.spec), rows);
    expect(Math.max(...codes.map((c) => c.indices.length))).toBeGreaterThan(2);
    expect(compareCodes(result as SparseLike, codes).mismatchedTokens).toBe(0);
  });
});

describe('wide SAEs: the top k chunk by chunk on WebGPU', () => {
  /** A SAELens SAE of `width` features on the tiny GPT-2's layer-1 residual, as files for the page. */
  function wideSae(width: number, architecture: 'topk' | 'relu') {
    const dIn = TINY_DIMS.dModel;
    const sae = makeSae(dIn, width, architecture, width + 5);
    // ReLU: a bias that leaves a few dozen of the features active per token, as real SAEs do.
    const bEnc = architecture === 'relu' ? sae.bEnc.map((b) => b - 2.2) : sae.bEnc;
    const weights = encodeSafetensors({
      W_enc: { dtype: 'F32', shape: [dIn, width], data: sae.wEnc }, b_enc: { dtype: 'F32', shape: [width], data: bEnc },
      W_dec: { dtype: 'F32', shape: [width, dIn], data: sae.wDec }, b_dec: { dtype: 'F32', shape: [dIn], data: sae.bDec },
    });
    const cfg = { architecture: architecture === 'topk' ? 'topk' : 'standard', ...(architecture === 'topk' ? { k: 16 } : {}), d_in: dIn, d_sae: width, dtype: 'float32', apply_b_dec_to_input: true, normalize_activations: 'none', metadata: { sae_lens_version: '6.5.1', model_name: 'tiny-gpt2', hook_name: 'blocks.1.hook_resid_pre', hook_head_index: null, prepend_bos: true, model_from_pretrained_kwargs: { center_writing_weights: false } } };
    return [{ path: 'wide/cfg.json', bytes: new TextEncoder().encode(JSON.stringify(cfg)) }, { path: 'wide/sae_weights.safetensors', bytes: new Uint8Array(weights) }];
  }

  test.each([[8192, 'topk'], [6144, 'relu']] as const)('%i features (%s): the same features and values as the reference encoder', async (width, architecture) => {
    expect(planChunkedTopK(width)).toBeDefined();
    const files = wideSae(width, architecture);
    const opened = await browser.page.evaluate(async (files) => {
      const decoded = files.map((f) => ({ path: f.path, blob: new Blob([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))]) }));
      return (await (globalThis as any).autointerp.engine.openSaeFiles(decoded)).choices[0].id as string;
    }, files.map((f) => ({ path: f.path, base64: Buffer.from(f.bytes).toString('base64') })));
    const rows = tokenRows(2, 16, width);
    // The ReLU SAE starts under a cap of 8, below its tokens' counts: the batch re-runs with a larger one.
    const result = await encodeInPage(opened, rows, architecture === 'relu' ? { initialCap: 8 } : {});
    expect(result.error).toBeUndefined();
    const { candidates } = await detectSaes(files.map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
    const spec = candidates[0]!.spec;
    const { codes } = await expectedCodes(spec, await loadSaeWeights(candidates[0]!, spec), rows);
    const comparison = compareCodes(result as SparseLike, codes);
    expect(comparison.activeTotal).toBeGreaterThan(32 * 8);
    expect(comparison.mismatchedTokens).toBe(0);
    expect(comparison.worstRelative).toBeLessThan(1e-4);
    if (architecture === 'relu') expect(result.cap).toBeGreaterThan(8);
  });
});

describe('malformed and mismatched SAEs', () => {
  const manifest = JSON.parse(readFileSync(join(SAE_FIXTURES, 'manifest.json'), 'utf8')) as { cases: { name: string; error?: { code: string; stage: string } }[] };
  const broken = manifest.cases.filter((c) => c.error);
  test.each(broken.map((c) => [c.name, c.error!.code, c.error!.stage] as const))('%s gives %s', async (name, code, stage) => {
    const opened = await openInPage(name);
    if (stage === 'detect') {
      expect(opened.error).toContain(`[${code}]`);
      return;
    }
    expect(opened.error).toBeUndefined();
    const result = await encodeInPage(opened.ok.choices[0].id, tokenRows(1, 4));
    expect(result.error).toContain(`[${code}]`);
  });
});
