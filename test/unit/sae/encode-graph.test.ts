/**
 * The SAE encoder graph on its own: `appendSaeEncoder` on a one-input graph whose input is the hook
 * tensor, run with onnxruntime-node and compared with the float64 reference encoder. Every input step
 * (centring, each normalization, b_dec subtraction) and the column-block split of W_enc is checked here
 * with inputs whose per-token mean is far from zero, so that a step the graph skips changes the result.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { errorCode } from '../../../src/lib/errors.ts';
import { encodeModel, makeGraph, makeModel, makeValueInfo, TensorDataType } from '../../../src/lib/formats/index.ts';
import { appendSaeEncoder, packTopK, prepareInput, referenceEncode, SAE_K_INPUT, SAE_OUTPUTS } from '../../../src/lib/sae/index.ts';
import type { SaeNormalization, SaeSpec, SaeWeights } from '../../../src/lib/sae/index.ts';
import type { SparseActivations } from '../../../src/lib/types.ts';
import { Prng } from '../../../src/lib/util/index.ts';
import { compareCodes } from '../../support/sae-fixtures.ts';

const D_IN = 12;
const WIDTH = 40;
const BATCH = 2;
const SEQ = 6;
const TOKENS = BATCH * SEQ;
const HOOK = 'hook';

/** A ReLU SAE spec with every input step off; tests switch steps on. */
function spec(change: Partial<SaeSpec> = {}): SaeSpec {
  return {
    format: 'saelens', architecture: 'relu', dIn: D_IN, width: WIDTH, dtype: 'F32', bytes: 0,
    normalizeActivations: 'none', applyBDecToInput: false, prependBos: false, rescaleActsByDecoderNorm: false, centerResidual: false,
    missing: [], assumed: [], warnings: [], ...change,
  };
}

function randomWeights(dIn: number, width: number, seed: number): SaeWeights {
  const rng = new Prng(seed);
  return {
    wEnc: rng.normals(dIn * width, 1 / Math.sqrt(dIn)),
    bEnc: rng.normals(width, 0.1, -0.05),
    wDec: rng.normals(width * dIn, 1 / Math.sqrt(dIn)),
    bDec: rng.normals(dIn, 0.5, 0.3),
  };
}

/** Residual-like tokens: each has its own offset (mean far from 0) and scale, as GPT-2's residual stream does. */
function hookActivations(seed: number): Float32Array {
  const rng = new Prng(seed);
  const out = new Float32Array(TOKENS * D_IN);
  for (let t = 0; t < TOKENS; t++) {
    const offset = 1.5 + rng.uniform() * 2;
    const scale = 0.5 + rng.uniform() * 3;
    for (let i = 0; i < D_IN; i++) out[t * D_IN + i] = offset + scale * rng.normal();
  }
  return out;
}

const WEIGHTS = randomWeights(D_IN, WIDTH, 7);
const INPUT = hookActivations(11);

interface Encoded {
  sparse: SparseActivations;
  activeCount?: Float32Array;
  /** W_enc initializers the graph holds (one per column block). */
  blocks: number;
}

/** Builds graph(hook) -> SAE encoder, runs it on `x` [BATCH, SEQ, dIn] and packs the result. */
async function encodeWithGraph(s: SaeSpec, w: SaeWeights, x: Float32Array, options: { opset?: number; maxTensorBytes?: number; k?: number } = {}): Promise<Encoded> {
  const opset = options.opset ?? 17;
  const graph = makeGraph({ nodes: [], inputs: [makeValueInfo(HOOK, TensorDataType.FLOAT, ['batch', 'seq', s.dIn])] });
  appendSaeEncoder(graph, HOOK, s, w, { opset, maxTensorBytes: options.maxTensorBytes ?? 1 << 30 });
  const model = makeModel(graph, { opset, irVersion: opset >= 18 ? 9 : 8 });
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  const k = options.k ?? (s.architecture === 'topk' ? s.k! : s.width);
  const out = await session.run({
    [HOOK]: new ort.Tensor('float32', x, [BATCH, SEQ, s.dIn]),
    [SAE_K_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
  });
  const sparse = packTopK(out[SAE_OUTPUTS.values]!.data as Float32Array, out[SAE_OUTPUTS.indices]!.data as BigInt64Array, TOKENS, k);
  const count = out[SAE_OUTPUTS.activeCount]?.data as Float32Array | undefined;
  return { sparse, ...(count ? { activeCount: count } : {}), blocks: graph.initializers.filter((t) => t.name.startsWith('/sae/W_enc_')).length };
}

/** The graph agrees with the reference encoder: same active features per token, values within 1e-5 of the largest. */
async function expectMatchesReference(s: SaeSpec, options: { opset?: number; maxTensorBytes?: number } = {}, w = WEIGHTS): Promise<Encoded> {
  const encoded = await encodeWithGraph(s, w, INPUT, options);
  const comparison = compareCodes(encoded.sparse, referenceEncode(w, s, INPUT));
  expect(comparison.activeTotal).toBeGreaterThan(TOKENS * 3); // features really fire
  expect(comparison.mismatchedTokens).toBe(0);
  expect(comparison.worstRelative).toBeLessThan(1e-5);
  return encoded;
}

const sameSparse = (a: SparseActivations, b: SparseActivations) =>
  a.features.length === b.features.length && a.features.every((f, i) => f === b.features[i]) && a.values.every((v, i) => Math.abs(v - b.values[i]!) < 1e-6);

const NORMALIZATIONS: { normalizeActivations: SaeNormalization; normalizationScale?: number }[] = [
  { normalizeActivations: 'none' },
  { normalizeActivations: 'layer_norm' },
  { normalizeActivations: 'constant_norm_rescale' },
  { normalizeActivations: 'expected_average_only_in', normalizationScale: 0.37 },
];

describe('appendSaeEncoder input steps', () => {
  const cases = NORMALIZATIONS.flatMap((n) => [false, true].flatMap((centerResidual) => [false, true].map((applyBDecToInput) => ({ ...n, centerResidual, applyBDecToInput }))));
  test.each(cases)('normalization $normalizeActivations, centring $centerResidual, b_dec subtracted $applyBDecToInput: equals the reference encoder', async (settings) => {
    await expectMatchesReference(spec(settings));
  });

  test.each([13, 17, 18])('centring at opset %i (ReduceMean axes as attribute or input) subtracts each token\'s mean', async (opset) => {
    const centred = await expectMatchesReference(spec({ centerResidual: true }), { opset });
    const raw = await expectMatchesReference(spec({ centerResidual: false }), { opset });
    expect(sameSparse(centred.sparse, raw.sparse)).toBe(false);
  });

  test('centring changes the result under every normalization that keeps the mean', async () => {
    for (const n of NORMALIZATIONS.filter((x) => x.normalizeActivations !== 'layer_norm')) {
      const on = await encodeWithGraph(spec({ ...n, centerResidual: true }), WEIGHTS, INPUT);
      const off = await encodeWithGraph(spec({ ...n, centerResidual: false }), WEIGHTS, INPUT);
      expect(sameSparse(on.sparse, off.sparse), n.normalizeActivations).toBe(false);
    }
  });

  test('the prepared input is exactly prepareInput: W_enc = [I | -I] reads it back', async () => {
    // relu(x') and relu(-x') side by side: feature i minus feature dIn + i is x'_i.
    const wEnc = new Float32Array(D_IN * 2 * D_IN);
    for (let i = 0; i < D_IN; i++) {
      wEnc[i * 2 * D_IN + i] = 1;
      wEnc[i * 2 * D_IN + D_IN + i] = -1;
    }
    const probe: SaeWeights = { wEnc, bEnc: new Float32Array(2 * D_IN), wDec: new Float32Array(2 * D_IN * D_IN), bDec: WEIGHTS.bDec };
    for (const n of NORMALIZATIONS) {
      const s = { ...spec({ ...n, centerResidual: true, applyBDecToInput: true }), width: 2 * D_IN };
      const { sparse } = await encodeWithGraph(s, probe, INPUT);
      for (let t = 0; t < TOKENS; t++) {
        const expected = prepareInput(INPUT, probe, s, t * D_IN);
        const actual = new Float64Array(D_IN);
        for (let at = sparse.offsets[t]!; at < sparse.offsets[t + 1]!; at++) {
          const f = sparse.features[at]!;
          if (f < D_IN) actual[f] = actual[f]! + sparse.values[at]!;
          else actual[f - D_IN] = actual[f - D_IN]! - sparse.values[at]!;
        }
        const scale = Math.max(...expected.map(Math.abs));
        expected.forEach((v, i) => expect(Math.abs(actual[i]! - v) / scale, `${n.normalizeActivations} token ${t} dim ${i}`).toBeLessThan(1e-5));
      }
    }
  });

  test('expected_average_only_in without a known scale is refused before any graph is built', () => {
    const graph = makeGraph({ nodes: [], inputs: [makeValueInfo(HOOK, TensorDataType.FLOAT, ['batch', 'seq', D_IN])] });
    let error: unknown;
    try {
      appendSaeEncoder(graph, HOOK, spec({ normalizeActivations: 'expected_average_only_in' }), WEIGHTS, { opset: 17, maxTensorBytes: 1 << 30 });
    } catch (caught) {
      error = caught;
    }
    expect(errorCode(error)).toBe('sae/bad-config');
  });
});

describe('appendSaeEncoder W_enc column blocks', () => {
  test.each([1, 3, 7, 39])('%i columns per block give the same code as one W_enc, and the count of active features', async (columns) => {
    const s = spec({ centerResidual: true, normalizeActivations: 'layer_norm', applyBDecToInput: true });
    const whole = await expectMatchesReference(s);
    const split = await expectMatchesReference(s, { maxTensorBytes: D_IN * 4 * columns });
    expect(whole.blocks).toBe(1);
    expect(split.blocks).toBe(Math.ceil(WIDTH / columns));
    expect(sameSparse(split.sparse, whole.sparse)).toBe(true);
    const perToken = Array.from({ length: TOKENS }, (_, t) => split.sparse.offsets[t + 1]! - split.sparse.offsets[t]!);
    expect(Array.from(split.activeCount!)).toEqual(perToken);
  });

  test('a TopK SAE keeps its k largest features across blocks', async () => {
    const s = spec({ architecture: 'topk', k: 5, centerResidual: true, applyBDecToInput: true });
    const whole = await expectMatchesReference(s);
    const split = await expectMatchesReference(s, { maxTensorBytes: D_IN * 4 * 6 });
    expect(split.blocks).toBe(Math.ceil(WIDTH / 6));
    expect(sameSparse(split.sparse, whole.sparse)).toBe(true);
  });
});
