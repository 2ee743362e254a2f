import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFixtureFiles, residualLikeInputs, SAE_FIXTURES_DIR } from '../../../scripts/fixtures/saes.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import {
  detectSaes,
  estimateNormalizationScale,
  loadSaeWeights,
  prepareInput,
  referenceEncode,
  referenceEncodeToken,
  topKIndices,
  type EncodeSettings,
  type SaeWeights,
  type SparseCode,
} from '../../../src/lib/sae/index.ts';

const base: EncodeSettings = { architecture: 'relu', normalizeActivations: 'none', applyBDecToInput: true, rescaleActsByDecoderNorm: false };

/** Weights from plain nested arrays: wEnc given as columns (one array per feature) for readability. */
function weights(o: { features: number[][]; bEnc?: number[]; bDec?: number[]; wDec?: number[][]; threshold?: number[]; bGate?: number[]; rMag?: number[]; bMag?: number[] }): SaeWeights {
  const width = o.features.length;
  const dIn = o.features[0]!.length;
  const wEnc = new Float32Array(dIn * width);
  o.features.forEach((column, j) => column.forEach((v, i) => (wEnc[i * width + j] = v)));
  const wDec = new Float32Array(width * dIn);
  (o.wDec ?? o.features).forEach((row, j) => row.forEach((v, i) => (wDec[j * dIn + i] = v)));
  const vec = (v: number[] | undefined, n: number) => Float32Array.from(v ?? new Array<number>(n).fill(0));
  return {
    wEnc,
    wDec,
    bEnc: vec(o.bEnc ?? o.bGate, width),
    bDec: vec(o.bDec, dIn),
    ...(o.threshold ? { threshold: vec(o.threshold, width) } : {}),
    ...(o.bGate ? { bGate: vec(o.bGate, width), rMag: vec(o.rMag, width), bMag: vec(o.bMag, width) } : {}),
  };
}

/**
 * A second, deliberately plain implementation: arrays, a switch, a full sort. The reference encoder must
 * agree with it.
 */
function naiveEncode(w: SaeWeights, s: EncodeSettings, token: number[]): SparseCode {
  const d = w.bDec.length;
  const n = w.bEnc.length;
  const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  let x = [...token];
  if (s.centerResidual) {
    const m = avg(x);
    x = x.map((v) => v - m);
  }
  switch (s.normalizeActivations) {
    case 'layer_norm': {
      const m = avg(x);
      const c = x.map((v) => v - m);
      const sd = Math.sqrt(c.reduce((a, v) => a + v * v, 0) / (d - 1));
      x = c.map((v) => v / (sd + 1e-5));
      break;
    }
    case 'constant_norm_rescale': {
      const len = Math.hypot(...x);
      x = x.map((v) => (v * Math.sqrt(d)) / len);
      break;
    }
    case 'expected_average_only_in':
      x = x.map((v) => v * s.normalizationScale!);
      break;
    case 'none':
      break;
  }
  if (s.applyBDecToInput) x = x.map((v, i) => v - w.bDec[i]!);
  const dot = (j: number) => x.reduce((acc, v, i) => acc + v * w.wEnc[i * n + j]!, 0);
  const dense: number[] = [];
  for (let j = 0; j < n; j++) {
    const proj = dot(j);
    switch (s.architecture) {
      case 'relu':
        dense.push(Math.max(0, proj + w.bEnc[j]!));
        break;
      case 'jumprelu': {
        const pre = proj + w.bEnc[j]!;
        dense.push(pre > w.threshold![j]! ? Math.max(0, pre) : 0);
        break;
      }
      case 'gated': {
        const gate = proj + w.bGate![j]! > 0;
        dense.push(gate ? Math.max(0, proj * Math.exp(w.rMag![j]!) + w.bMag![j]!) : 0);
        break;
      }
      case 'topk': {
        let pre = proj + w.bEnc[j]!;
        if (s.rescaleActsByDecoderNorm) pre *= Math.hypot(...w.wDec.subarray(j * d, (j + 1) * d));
        dense.push(pre);
        break;
      }
    }
  }
  if (s.architecture === 'topk') {
    const order = dense.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const keep = new Set(order.slice(0, s.k).map(([, j]) => j));
    dense.forEach((v, j) => (dense[j] = keep.has(j) ? Math.max(0, v) : 0));
  }
  const code: SparseCode = { indices: [], values: [] };
  dense.forEach((v, j) => {
    if (v > 0) {
      code.indices.push(j);
      code.values.push(v);
    }
  });
  return code;
}

function expectSameCode(actual: SparseCode, expected: SparseCode, digits = 10) {
  expect(actual.indices).toEqual(expected.indices);
  actual.values.forEach((v, i) => expect(v).toBeCloseTo(expected.values[i]!, digits));
}

describe('reference encoder, hand-made cases', () => {
  it('relu: subtracts b_dec, adds b_enc, keeps positives sorted by index', () => {
    const w = weights({ features: [[1, 0], [0, 1], [-1, -1], [1, 1]], bEnc: [0, -0.5, 0, -10], bDec: [1, 1] });
    const code = referenceEncodeToken(w, base, [3, 1]);
    // x' = [2, 0]: pre = [2, -0.5, -2, -8]
    expect(code).toEqual({ indices: [0], values: [2] });
    // without b_dec: pre = [3, 0.5, -4, -6]
    expect(referenceEncodeToken(w, { ...base, applyBDecToInput: false }, [3, 1])).toEqual({ indices: [0, 1], values: [3, 0.5] });
  });

  it('topk: exactly k kept, ties broken by the lower index, then relu', () => {
    const w = weights({ features: [[1], [3], [3], [2], [3]] });
    const topk = (k: number, x: number) => referenceEncodeToken(w, { ...base, architecture: 'topk', k, applyBDecToInput: false }, [x]);
    expect(topk(2, 1)).toEqual({ indices: [1, 2], values: [3, 3] });
    expect(topk(3, 1)).toEqual({ indices: [1, 2, 4], values: [3, 3, 3] });
    expect(topk(4, 1)).toEqual({ indices: [1, 2, 3, 4], values: [3, 3, 2, 3] });
    // all negative: the k chosen are relu'd to zero and dropped
    expect(topk(2, -1)).toEqual({ indices: [], values: [] });
    expect(topKIndices([5, 5, 5, 5], 2)).toEqual(new Set([0, 1]));
    // a tie inside the kept set, then a larger value: the later of the tied ones goes
    expect(topKIndices([3, 3, 5], 2)).toEqual(new Set([0, 2]));
    expect(topKIndices([1, 3, 3, 0, 3, 4, 3], 3)).toEqual(new Set([1, 2, 5]));
    expect(topKIndices([1, 2], 5)).toEqual(new Set([0, 1]));
  });

  it('topk with rescale_acts_by_decoder_norm ranks by pre × ||W_dec row||', () => {
    const w = weights({ features: [[1], [2], [1.5]], wDec: [[4], [1], [1]] });
    const settings: EncodeSettings = { ...base, architecture: 'topk', k: 1, applyBDecToInput: false };
    expect(referenceEncodeToken(w, settings, [1])).toEqual({ indices: [1], values: [2] });
    expect(referenceEncodeToken(w, { ...settings, rescaleActsByDecoderNorm: true }, [1])).toEqual({ indices: [0], values: [4] });
  });

  it('jumprelu: fires only strictly above the threshold', () => {
    const w = weights({ features: [[1], [1], [1], [1]], bEnc: [0, 0, 0, -1], threshold: [0.25, 0.5, 0.75, -2] });
    const code = referenceEncodeToken(w, { ...base, architecture: 'jumprelu', applyBDecToInput: false }, [0.5]);
    // pre = [0.5, 0.5, 0.5, -0.5]: above 0.25 yes, equal to 0.5 no, below 0.75 no, above -2 but negative -> relu 0
    expect(code).toEqual({ indices: [0], values: [0.5] });
  });

  it('gated: the gate decides, the magnitude path gives the value', () => {
    const w = weights({ features: [[1, 0], [0, 1], [1, 1]], bGate: [0, -5, 0], rMag: [Math.log(2), 0, 0], bMag: [1, 1, -10] });
    const code = referenceEncodeToken(w, { ...base, architecture: 'gated', applyBDecToInput: false }, [3, 1]);
    // gate: [3 > 0, 1 - 5 < 0, 4 > 0]; magnitude: [3·2 + 1, -, 4 - 10 -> relu 0]
    expect(code.indices).toEqual([0]);
    expect(code.values[0]).toBeCloseTo(7, 5); // exp(log 2) in float32
  });

  it('layer_norm: mean removed, divided by (unbiased std + 1e-5)', () => {
    const w = weights({ features: [[1, 0, 0, 0], [0, 0, 0, 1]], bEnc: [5, 5] });
    const x = prepareInput([1, 2, 3, 4], w, { ...base, normalizeActivations: 'layer_norm', applyBDecToInput: false });
    const std = Math.sqrt(5 / 3);
    [-1.5, -0.5, 0.5, 1.5].forEach((c, i) => expect(x[i]).toBeCloseTo(c / (std + 1e-5), 12));
  });

  it('constant_norm_rescale and expected_average_only_in scale the input', () => {
    const w = weights({ features: [[1, 0, 0, 0]] });
    const rescaled = prepareInput([3, 4, 0, 0], w, { ...base, normalizeActivations: 'constant_norm_rescale', applyBDecToInput: false });
    expect(Math.hypot(...rescaled)).toBeCloseTo(2, 12);
    expect(prepareInput([0, 0, 0, 0], w, { ...base, normalizeActivations: 'constant_norm_rescale' })).toEqual(new Float64Array(4));
    const scaled = prepareInput([1, 2, 3, 4], w, { ...base, normalizeActivations: 'expected_average_only_in', normalizationScale: 0.5, applyBDecToInput: false });
    expect([...scaled]).toEqual([0.5, 1, 1.5, 2]);
  });

  it('centring subtracts the per-token mean before anything else, and is idempotent', () => {
    const w = weights({ features: [[1, 0, 0]], bDec: [1, 0, 0] });
    const settings: EncodeSettings = { ...base, centerResidual: true };
    expect([...prepareInput([2, 2, 5], w, settings)]).toEqual([-2, -1, 2]);
    expect([...prepareInput([-1, -1, 2], w, settings)]).toEqual([-2, -1, 2]);
  });

  it('settings it cannot run without are errors that say what to set', () => {
    const w = weights({ features: [[1]] });
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return errorCode(error);
      }
    };
    expect(code(() => referenceEncodeToken(w, { ...base, architecture: 'topk' }, [1]))).toBe('sae/bad-config');
    expect(code(() => referenceEncodeToken(w, { ...base, normalizeActivations: 'expected_average_only_in' }, [1]))).toBe('sae/bad-config');
    expect(code(() => referenceEncodeToken(w, { ...base, architecture: 'jumprelu' }, [1]))).toBe('sae/config-mismatch');
    expect(code(() => referenceEncode(weights({ features: [[1, 2]] }), base, [1, 2, 3]))).toBe('sae/mismatch');
  });

  it('estimates the expected_average_only_in scale as sqrt(d_in) / mean norm', () => {
    expect(estimateNormalizationScale([3, 4, 0, 5], 2)).toBeCloseTo(Math.sqrt(2) / 5, 12);
  });

  it('agrees with the plain implementation on random tiny SAEs in every mode', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const dIn = 5;
    const width = 9;
    const features = Array.from({ length: width }, () => Array.from({ length: dIn }, random));
    const w = weights({
      features,
      bEnc: Array.from({ length: width }, () => random() * 0.3),
      bDec: Array.from({ length: dIn }, () => random() * 0.3),
      wDec: Array.from({ length: width }, () => Array.from({ length: dIn }, random)),
      threshold: Array.from({ length: width }, () => Math.abs(random())),
    });
    const gated = { ...w, bGate: w.bEnc, rMag: Float32Array.from({ length: width }, () => random() * 0.5), bMag: Float32Array.from({ length: width }, () => random() * 0.2) };
    const modes: EncodeSettings[] = [];
    for (const architecture of ['relu', 'jumprelu', 'gated', 'topk'] as const) {
      for (const normalizeActivations of ['none', 'layer_norm', 'constant_norm_rescale', 'expected_average_only_in'] as const) {
        for (const applyBDecToInput of [true, false]) {
          modes.push({ architecture, normalizeActivations, applyBDecToInput, normalizationScale: 1.7, k: 3, rescaleActsByDecoderNorm: architecture === 'topk' && applyBDecToInput, centerResidual: !applyBDecToInput });
        }
      }
    }
    for (const settings of modes) {
      for (let t = 0; t < 10; t++) {
        const x = Array.from({ length: dIn }, () => random() * 3);
        expectSameCode(referenceEncodeToken(gated, settings, x), naiveEncode(gated, settings, x));
      }
    }
  });
});

describe('reference encoder, ties', () => {
  it('agrees with the plain implementation when integer weights make many ties', () => {
    let seed = 5;
    const random = () => (seed = (seed * 16807) % 2147483647) % 5;
    const dIn = 3;
    const width = 16;
    const w = weights({ features: Array.from({ length: width }, () => Array.from({ length: dIn }, () => random() - 2)) });
    for (const k of [1, 3, 5, 8]) {
      for (let t = 0; t < 20; t++) {
        const x = Array.from({ length: dIn }, () => random() - 1);
        const settings: EncodeSettings = { ...base, architecture: 'topk', k, applyBDecToInput: false };
        expectSameCode(referenceEncodeToken(w, settings, x), naiveEncode(w, settings, x));
      }
    }
  });
});

describe('reference encoder on the fixtures', () => {
  const cases = ['saelens-standard', 'saelens-topk', 'saelens-jumprelu', 'saelens-gated', 'saelens-hook-z', 'saelens-mlp-post', 'gemmascope-upper', 'gemmascope-lower', 'sparsify', 'openai-v5'];
  it.each(cases)('%s: agrees with the plain implementation, and a realistic share of features fires', async (name) => {
    const { candidates } = await detectSaes(await readFixtureFiles(join(SAE_FIXTURES_DIR, name)));
    for (const candidate of candidates) {
      const w = await loadSaeWeights(candidate, candidate.spec);
      const x = residualLikeInputs(20, candidate.spec.dIn, 3);
      const settings: EncodeSettings = {
        ...candidate.spec,
        centerResidual: candidate.spec.centerResidual ?? false,
        normalizationScale: candidate.spec.normalizationScale ?? estimateNormalizationScale(x, candidate.spec.dIn),
      };
      const codes = referenceEncode(w, settings, x);
      codes.forEach((code, t) => {
        expectSameCode(code, naiveEncode(w, settings, [...x.subarray(t * candidate.spec.dIn, (t + 1) * candidate.spec.dIn)]), 9);
        expect(code.values.every((v) => v > 0)).toBe(true);
        expect([...code.indices].sort((a, b) => a - b)).toEqual(code.indices);
      });
      const active = codes.reduce((sum, c) => sum + c.indices.length, 0) / codes.length / candidate.spec.width;
      if (candidate.spec.architecture === 'topk') {
        expect(codes.every((c) => c.indices.length === candidate.spec.k)).toBe(true);
      } else {
        expect(active).toBeGreaterThan(0.1);
        expect(active).toBeLessThan(0.45);
      }
    }
  });
});
