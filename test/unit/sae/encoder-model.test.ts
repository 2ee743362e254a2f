/**
 * The ONNX graphs the engine builds (GPT-2 cut at a hook, plus an SAE encoder) checked on the CPU with
 * onnxruntime-node against the float64 reference forward and reference encoder. The browser tests run
 * the same graphs on WebGPU.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { decodeModel } from '../../../src/lib/formats/index.ts';
import { buildEncoderModel, buildHookModel, HOOK_OUTPUT } from '../../../src/lib/index.ts';
import { SAE_K_INPUT, SAE_OUTPUTS } from '../../../src/lib/index.ts';
import { detectSaes, loadSaeWeights } from '../../../src/lib/index.ts';
import { packTopK } from '../../../src/lib/index.ts';
import { compareCodes, expectedCodes, fixtureFiles, TINY_GPT2, tinyGpt2Weights, tokenRows, VALID_SAE_FIXTURES } from '../../support/sae-fixtures.ts';
import { referenceForward } from '../../support/reference-gpt2.ts';

const onnx = readFileSync(join(TINY_GPT2, 'onnx/model.onnx'));

function feeds(inputs: string[], rows: number[][]): Record<string, ort.Tensor> {
  const [batch, seq] = [rows.length, rows[0]!.length];
  const out: Record<string, ort.Tensor> = {};
  const ids = BigInt64Array.from(rows.flat().map(BigInt));
  for (const name of inputs) {
    if (name === 'input_ids') out[name] = new ort.Tensor('int64', ids, [batch, seq]);
    if (name === 'attention_mask') out[name] = new ort.Tensor('int64', new BigInt64Array(batch * seq).fill(1n), [batch, seq]);
    if (name === 'position_ids') out[name] = new ort.Tensor('int64', BigInt64Array.from(rows.flatMap((r) => r.map((_, t) => BigInt(t)))), [batch, seq]);
  }
  return out;
}

describe('buildHookModel', () => {
  const rows = tokenRows(2, 12);
  const hooks = ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_mid', 'blocks.2.hook_resid_post', 'blocks.1.hook_attn_out', 'blocks.0.hook_mlp_out', 'blocks.2.mlp.hook_post', 'blocks.1.attn.hook_z'];
  test.each(hooks)('%s matches the reference forward and the graph stops there', async (hookName) => {
    const built = buildHookModel(onnx, hookName);
    const session = await ort.InferenceSession.create(built.bytes);
    const output = (await session.run(feeds(built.inputs, rows)))[HOOK_OUTPUT]!;
    const reference = referenceForward(await tinyGpt2Weights(), rows).hooks.get(hookName)!;
    expect(output.data.length).toBe(reference.length);
    let scale = 0;
    let worst = 0;
    reference.forEach((v, i) => {
      scale = Math.max(scale, Math.abs(v));
      worst = Math.max(worst, Math.abs((output.data as Float32Array)[i]! - v));
    });
    expect(worst / scale).toBeLessThan(1e-5);
    // Nothing after the hook survives: no ln_f, no lm_head, and no later block.
    const names = decodeModel(built.bytes).graph.nodes.map((n) => n.name);
    expect(names.some((n) => n.startsWith('/lm_head') || n.startsWith('/transformer/ln_f'))).toBe(false);
    const layer = Number(hookName.split('.')[1]);
    expect(names.some((n) => n.startsWith(`/transformer/h.${layer + 1}/`))).toBe(false);
  });

  test('an unknown hook or a layer the model lacks is a clear error', () => {
    expect(() => buildHookModel(onnx, 'blocks.7.hook_resid_pre')).toThrow(/blocks 0 to 2/);
    expect(() => buildHookModel(onnx, 'blocks.1.hook_nonsense')).toThrow(/not a hook point the engine reads/);
  });
});

describe('buildEncoderModel', () => {
  test.each(VALID_SAE_FIXTURES)('%s: sparse output equals the reference encoder on the reference forward', async (fixture) => {
    const files = fixtureFiles(fixture).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) }));
    const { candidates } = await detectSaes(files);
    expect(candidates.length).toBeGreaterThan(0);
    for (const candidate of candidates) {
      const spec = { ...candidate.spec, normalizationScale: candidate.spec.normalizationScale ?? 1.5 };
      const weights = await loadSaeWeights(candidate, spec);
      // A small buffer limit forces W_enc into several column blocks, as a 131072-wide SAE needs on a GPU.
      const built = buildEncoderModel(onnx, spec, weights, { maxTensorBytes: spec.dIn * 4 * 40 });
      const rows = tokenRows(2, 10, fixture.length);
      const session = await ort.InferenceSession.create(built.bytes);
      const k = spec.architecture === 'topk' ? spec.k! : spec.width;
      const out = await session.run({ ...feeds(built.inputs, rows), [SAE_K_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]) });
      const sparse = packTopK(out[SAE_OUTPUTS.values]!.data as Float32Array, out[SAE_OUTPUTS.indices]!.data as BigInt64Array, 20, k);
      const { codes } = await expectedCodes(spec, weights, rows);
      const comparison = compareCodes(sparse, codes);
      expect(comparison.activeTotal).toBeGreaterThan(20); // features really fire
      expect(comparison.mismatchedTokens).toBe(0);
      expect(comparison.worstRelative).toBeLessThan(1e-4);
      if (spec.architecture !== 'topk') {
        const counts = out[SAE_OUTPUTS.activeCount]!.data as Float32Array;
        expect(Array.from(counts)).toEqual(codes.map((c) => c.indices.length));
      }
    }
  });
});
