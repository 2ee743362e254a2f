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
import { appendSaeEncoder, buildEncoderProductModel, ENCODER_PRODUCT_IO, packTopK, planChunkedTopK, prepareInput, referenceEncode, SAE_K_INPUT, SAE_OUTPUTS } from '../../../src/lib/sae/index.ts';
import type { ChunkedTopKPlan, SaeNormalization, SaeSpec, SaeWeights } from '../../../src/lib/sae/index.ts';
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
  /** TopK nodes: 1 for one sort of the row, 3 for the chunked selection. */
  topKNodes: number;
}

/** Builds graph(hook) -> SAE encoder, runs it on `x` [BATCH, SEQ, dIn] and packs the result. */
async function encodeWithGraph(s: SaeSpec, w: SaeWeights, x: Float32Array, options: { opset?: number; maxTensorBytes?: number; k?: number; topKPlan?: ChunkedTopKPlan | null } = {}): Promise<Encoded> {
  const opset = options.opset ?? 17;
  const graph = makeGraph({ nodes: [], inputs: [makeValueInfo(HOOK, TensorDataType.FLOAT, ['batch', 'seq', s.dIn])] });
  appendSaeEncoder(graph, HOOK, s, w, { opset, maxTensorBytes: options.maxTensorBytes ?? 1 << 30, ...(options.topKPlan !== undefined ? { topKPlan: options.topKPlan } : {}) });
  const model = makeModel(graph, { opset, irVersion: opset >= 18 ? 9 : 8 });
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  const k = options.k ?? (s.architecture === 'topk' ? s.k! : s.width);
  const out = await session.run({
    [HOOK]: new ort.Tensor('float32', x, [BATCH, SEQ, s.dIn]),
    [SAE_K_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
  });
  const sparse = packTopK(out[SAE_OUTPUTS.values]!.data as Float32Array, out[SAE_OUTPUTS.indices]!.data as BigInt64Array, TOKENS, k);
  const count = out[SAE_OUTPUTS.activeCount]?.data as Float32Array | undefined;
  return { sparse, ...(count ? { activeCount: count } : {}), blocks: graph.initializers.filter((t) => t.name.startsWith('/sae/W_enc_')).length, topKNodes: graph.nodes.filter((n) => n.opType === 'TopK').length };
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

describe('the top k of wide rows, chunk by chunk', () => {
  test.each([
    [2048, undefined],
    [4099, undefined], // a prime: no chunk divides it
    [6144, { chunk: 3, passes: [3] }],
    [24576, { chunk: 12, passes: [12] }],
    [32768, { chunk: 16, passes: [16] }],
    [131072, { chunk: 64, passes: [16, 4] }],
    [1 << 20, { chunk: 512, passes: [16, 16, 2] }],
  ])('a row of %i columns: %j', (width, plan) => {
    expect(planChunkedTopK(width)).toEqual(plan);
    if (plan) {
      expect(width / plan.chunk).toBeLessThanOrEqual(2048);
      expect(plan.passes.reduce((a, b) => a * b, 1)).toBe(plan.chunk);
      expect(Math.max(...plan.passes)).toBeLessThanOrEqual(16);
    }
  });

  // Every feature twice (column j + 20 = column j): each token's k-th and (k+1)-th values tie, so the
  // lower feature index must win, as it does in one TopK over the row.
  const twinned: SaeWeights = (() => {
    const wEnc = new Float32Array(D_IN * WIDTH);
    for (let i = 0; i < D_IN; i++) for (let j = 0; j < WIDTH; j++) wEnc[i * WIDTH + j] = WEIGHTS.wEnc[i * WIDTH + (j % 20)]!;
    return { ...WEIGHTS, wEnc, bEnc: Float32Array.from({ length: WIDTH }, (_, j) => WEIGHTS.bEnc[j % 20]!) };
  })();
  const plans: ChunkedTopKPlan[] = [{ chunk: 2, passes: [2] }, { chunk: 4, passes: [4] }, { chunk: 8, passes: [4, 2] }, { chunk: 20, passes: [10, 2] }];

  test.each(plans)('chunks of $chunk ($passes): a TopK SAE gets exactly the features and values of one sort, ties included', async (plan) => {
    for (const [weights, k] of [[WEIGHTS, 5], [twinned, 5], [twinned, 6], [WEIGHTS, 40]] as const) {
      const s = spec({ architecture: 'topk', k, centerResidual: true, applyBDecToInput: true });
      const one = await encodeWithGraph(s, weights, INPUT, { topKPlan: null });
      const chunked = await encodeWithGraph(s, weights, INPUT, { topKPlan: plan });
      expect(one.topKNodes).toBe(1);
      expect(chunked.topKNodes).toBe(3);
      expect(Array.from(chunked.sparse.features)).toEqual(Array.from(one.sparse.features));
      expect(Array.from(chunked.sparse.values)).toEqual(Array.from(one.sparse.values));
      expect(compareCodes(chunked.sparse, referenceEncode(weights, s, INPUT)).mismatchedTokens).toBe(0);
    }
  });

  test.each(plans)('chunks of $chunk ($passes): a ReLU SAE under a cap below and above the chunk count keeps every active feature', async (plan) => {
    const s = spec({ centerResidual: true, applyBDecToInput: true });
    for (const k of [3, WIDTH / plan.chunk + 1, WIDTH]) {
      const one = await encodeWithGraph(s, twinned, INPUT, { topKPlan: null, k });
      const chunked = await encodeWithGraph(s, twinned, INPUT, { topKPlan: plan, k });
      expect(Array.from(chunked.sparse.features), `k ${k}`).toEqual(Array.from(one.sparse.features));
      expect(Array.from(chunked.sparse.values), `k ${k}`).toEqual(Array.from(one.sparse.values));
      expect(Array.from(chunked.activeCount!)).toEqual(Array.from(one.activeCount!));
    }
  });

  test('a 6144-wide SAE takes the planned chunks and agrees with the reference encoder', async () => {
    const width = 6144;
    // The ReLU SAE's bias leaves a few hundred features active per token, under its cap of 1024.
    const weights = { ...randomWeights(D_IN, width, 21), bEnc: new Prng(22).normals(width, 0.5, -8) };
    for (const [s, k] of [[spec({ architecture: 'topk', k: 32, width }), 32], [spec({ width }), 1024]] as const) {
      const planned = await encodeWithGraph(s, weights, INPUT, { k });
      const one = await encodeWithGraph(s, weights, INPUT, { k, topKPlan: null });
      expect(planned.topKNodes).toBe(3);
      expect(Array.from(planned.sparse.features)).toEqual(Array.from(one.sparse.features));
      if (planned.activeCount) expect(Math.max(...planned.activeCount)).toBeLessThan(k);
      const comparison = compareCodes(planned.sparse, referenceEncode(weights, s, INPUT));
      expect(comparison.mismatchedTokens).toBe(0);
      expect(comparison.worstRelative).toBeLessThan(1e-5);
    }
  });

  test('before opset 12 (no batched GatherND) the row is sorted in one TopK', async () => {
    const s = spec({ architecture: 'topk', k: 5 });
    const old = await encodeWithGraph(s, WEIGHTS, INPUT, { opset: 11, topKPlan: { chunk: 4, passes: [4] } });
    expect(old.topKNodes).toBe(1);
  });
});

describe('a float16 encoder', () => {
  test('stores W_enc in float16 (twice the columns per block) and stays within float16 rounding of the reference', async () => {
    const s = spec({ architecture: 'topk', k: 5, centerResidual: true, applyBDecToInput: true, encoderPrecision: 'float16' });
    const graph = makeGraph({ nodes: [], inputs: [makeValueInfo(HOOK, TensorDataType.FLOAT, ['batch', 'seq', D_IN])] });
    appendSaeEncoder(graph, HOOK, s, WEIGHTS, { opset: 17, maxTensorBytes: D_IN * 4 * 10 });
    const blocks = graph.initializers.filter((t) => t.name.startsWith('/sae/W_enc_'));
    expect(blocks.map((t) => t.dataType)).toEqual([TensorDataType.FLOAT16, TensorDataType.FLOAT16]);
    expect(blocks).toHaveLength(WIDTH / 20);

    const half = await encodeWithGraph(s, WEIGHTS, INPUT);
    const comparison = compareCodes(half.sparse, referenceEncode(WEIGHTS, s, INPUT));
    expect(comparison.mismatchedTokens).toBeLessThanOrEqual(1);
    expect(comparison.worstRelative).toBeGreaterThan(1e-6); // rounded, not float32 in disguise
    expect(comparison.worstRelative).toBeLessThan(5e-3);
  });
});

describe('the encoder product alone (the benchmark\'s bound)', () => {
  test('gives each token\'s largest x W_enc, over column blocks as the encoder splits them', async () => {
    const s = spec({ architecture: 'topk', k: 5 });
    for (const maxTensorBytes of [1 << 30, D_IN * 4 * 7]) {
      const session = await ort.InferenceSession.create(buildEncoderProductModel(s, WEIGHTS, { maxTensorBytes }), { logSeverityLevel: 3 });
      const out = await session.run({ [ENCODER_PRODUCT_IO.input]: new ort.Tensor('float32', INPUT, [BATCH, SEQ, D_IN]) });
      const largest = out[ENCODER_PRODUCT_IO.output]!.data as Float32Array;
      expect(largest).toHaveLength(TOKENS);
      for (let t = 0; t < TOKENS; t++) {
        let best = -Infinity;
        for (let j = 0; j < WIDTH; j++) {
          let sum = 0;
          for (let i = 0; i < D_IN; i++) sum += INPUT[t * D_IN + i]! * WEIGHTS.wEnc[i * WIDTH + j]!;
          best = Math.max(best, sum);
        }
        expect(largest[t]).toBeCloseTo(best, 4);
      }
    }
  });
});
