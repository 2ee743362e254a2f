/**
 * The reference SAE encoder: float64, one token at a time, written for clarity rather than speed.
 * The GPU encoder is checked against it. Every format runs through the same steps once its weights are
 * canonical (see SaeWeights) and its settings are a SaeSpec:
 *
 *   x -> [centre] -> normalize -> [- b_dec] -> pre = x' W_enc + b_enc -> activation -> sparse code
 *
 * sparsify is `applyBDecToInput` + topk; OpenAI is layer_norm + `applyBDecToInput` (b_dec = pre_bias) +
 * topk (v5) or relu (v1/v4); Gemma Scope is jumprelu without b_dec subtraction.
 */
import { AppError } from '../errors.ts';
import type { SaeArchitecture, SaeNormalization, SaeSpec, SaeWeights } from './types.ts';

export type EncodeSettings = Pick<
  SaeSpec,
  'architecture' | 'k' | 'normalizeActivations' | 'normalizationScale' | 'applyBDecToInput' | 'rescaleActsByDecoderNorm' | 'centerResidual'
>;

/** One token's features: indices ascending, every value > 0. */
export interface SparseCode {
  indices: number[];
  values: number[];
}

export const LAYER_NORM_EPS = 1e-5;

const mean = (x: Float64Array) => x.reduce((a, b) => a + b, 0) / x.length;
const norm = (x: ArrayLike<number>, from = 0, length = x.length) => {
  let sum = 0;
  for (let i = from; i < from + length; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum);
};

/** Input normalizations, in place on one token. */
export const NORMALIZERS: Record<SaeNormalization, (x: Float64Array, settings: EncodeSettings) => void> = {
  none: () => {},
  // Subtract the mean, divide by (standard deviation with N - 1) + eps: SAELens's and OpenAI's layer norm.
  layer_norm: (x) => {
    const mu = mean(x);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! - mu;
    const std = Math.sqrt(x.reduce((a, b) => a + b * b, 0) / Math.max(1, x.length - 1));
    for (let i = 0; i < x.length; i++) x[i] = x[i]! / (std + LAYER_NORM_EPS);
  },
  // Rescale to norm sqrt(d_in). A zero vector stays zero.
  constant_norm_rescale: (x) => {
    const n = norm(x);
    if (n === 0) return;
    const scale = Math.sqrt(x.length) / n;
    for (let i = 0; i < x.length; i++) x[i] = x[i]! * scale;
  },
  expected_average_only_in: (x, settings) => {
    const scale = settings.normalizationScale;
    if (scale === undefined) {
      throw new AppError('sae/bad-config', 'This SAE scales its input by a constant (expected_average_only_in) that is not known yet: estimate it from the corpus (estimateNormalizationScale) or enter it.');
    }
    for (let i = 0; i < x.length; i++) x[i] = x[i]! * scale;
  },
};

/** sqrt(d_in) / mean ||x|| over tokens: the `expected_average_only_in` scale, from a sample of hook activations [nTokens, dIn]. */
export function estimateNormalizationScale(x: ArrayLike<number>, dIn: number): number {
  const nTokens = Math.floor(x.length / dIn);
  if (nTokens === 0) throw new AppError('sae/bad-config', 'Cannot estimate the input scale from no tokens: run the model on some text first.');
  let total = 0;
  for (let t = 0; t < nTokens; t++) total += norm(x, t * dIn, dIn);
  return Math.sqrt(dIn) / (total / nTokens);
}

interface Dims {
  dIn: number;
  width: number;
}

/** x' W_enc (no bias), float64. */
function project(x: Float64Array, wEnc: Float32Array, { dIn, width }: Dims): Float64Array {
  const out = new Float64Array(width);
  for (let i = 0; i < dIn; i++) {
    const xi = x[i]!;
    if (xi === 0) continue;
    const row = i * width;
    for (let j = 0; j < width; j++) out[j] = out[j]! + xi * wEnc[row + j]!;
  }
  return out;
}

function collect(values: ArrayLike<number>, keep: (j: number) => boolean): SparseCode {
  const code: SparseCode = { indices: [], values: [] };
  for (let j = 0; j < values.length; j++) {
    if (values[j]! > 0 && keep(j)) {
      code.indices.push(j);
      code.values.push(values[j]!);
    }
  }
  return code;
}

const decoderNorms = new WeakMap<Float32Array, Float64Array>();
function rowNorms(wDec: Float32Array, { dIn, width }: Dims): Float64Array {
  let norms = decoderNorms.get(wDec);
  if (!norms) {
    norms = new Float64Array(width);
    for (let j = 0; j < width; j++) norms[j] = norm(wDec, j * dIn, dIn);
    decoderNorms.set(wDec, norms);
  }
  return norms;
}

/**
 * The indices of the k largest values, ties broken by the lower index, as a set.
 * Insertion into a small sorted list: a later index never displaces an equal earlier one.
 */
export function topKIndices(values: ArrayLike<number>, k: number): Set<number> {
  const best: number[] = [];
  for (let j = 0; j < values.length; j++) {
    const v = values[j]!;
    if (best.length === k && !(v > values[best[k - 1]!]!)) continue;
    let at = best.length;
    while (at > 0 && v > values[best[at - 1]!]!) at--;
    best.splice(at, 0, j);
    if (best.length > k) best.pop();
  }
  return new Set(best);
}

/** Activation functions: from the prepared input x' to the sparse code. */
export const ACTIVATIONS: Record<SaeArchitecture, (x: Float64Array, w: SaeWeights, settings: EncodeSettings, dims: Dims) => SparseCode> = {
  relu: (x, w, _s, dims) => {
    const pre = project(x, w.wEnc, dims);
    for (let j = 0; j < dims.width; j++) pre[j] = pre[j]! + w.bEnc[j]!;
    return collect(pre, () => true);
  },
  // relu(pre) where pre > threshold (strictly), else 0.
  jumprelu: (x, w, _s, dims) => {
    const threshold = required(w.threshold, 'threshold');
    const pre = project(x, w.wEnc, dims);
    for (let j = 0; j < dims.width; j++) pre[j] = pre[j]! + w.bEnc[j]!;
    return collect(pre, (j) => pre[j]! > threshold[j]!);
  },
  // (x' W_enc + b_gate > 0) * relu(x' (W_enc * exp(r_mag)) + b_mag)
  gated: (x, w, _s, dims) => {
    const bGate = required(w.bGate, 'bGate');
    const rMag = required(w.rMag, 'rMag');
    const bMag = required(w.bMag, 'bMag');
    const proj = project(x, w.wEnc, dims);
    const magnitude = new Float64Array(dims.width);
    for (let j = 0; j < dims.width; j++) magnitude[j] = proj[j]! * Math.exp(rMag[j]!) + bMag[j]!;
    return collect(magnitude, (j) => proj[j]! + bGate[j]! > 0);
  },
  // Keep the k largest pre-activations (times each decoder row's norm when asked), then relu.
  topk: (x, w, settings, dims) => {
    const k = settings.k;
    if (k === undefined || !Number.isInteger(k) || k < 1) {
      throw new AppError('sae/bad-config', `A TopK SAE needs k (the number of active features); it is ${k ?? 'not set'}. Set k.`);
    }
    const pre = project(x, w.wEnc, dims);
    for (let j = 0; j < dims.width; j++) pre[j] = pre[j]! + w.bEnc[j]!;
    if (settings.rescaleActsByDecoderNorm) {
      const norms = rowNorms(w.wDec, dims);
      for (let j = 0; j < dims.width; j++) pre[j] = pre[j]! * norms[j]!;
    }
    const kept = topKIndices(pre, k);
    return collect(pre, (j) => kept.has(j));
  },
};

function required(tensor: Float32Array | undefined, name: string): Float32Array {
  if (!tensor) throw new AppError('sae/config-mismatch', `The weights have no ${name}, which this architecture needs. Check the architecture setting.`);
  return tensor;
}

function dimsOf(w: SaeWeights): Dims {
  const dIn = w.bDec.length;
  const width = w.bEnc.length;
  if (w.wEnc.length !== dIn * width || w.wDec.length !== dIn * width) {
    throw new AppError('sae/bad-shape', `The weights disagree: b_dec has ${dIn} values and b_enc ${width}, but W_enc has ${w.wEnc.length} and W_dec ${w.wDec.length} (expected ${dIn * width}).`);
  }
  return { dIn, width };
}

/** Centring, normalization and b_dec subtraction of one token, in float64: the SAE's actual input. */
export function prepareInput(x: ArrayLike<number>, w: SaeWeights, settings: EncodeSettings, offset = 0): Float64Array {
  const dIn = w.bDec.length;
  const out = new Float64Array(dIn);
  for (let i = 0; i < dIn; i++) out[i] = x[offset + i]!;
  if (settings.centerResidual) {
    // Idempotent: already-centred input is unchanged.
    const mu = mean(out);
    for (let i = 0; i < dIn; i++) out[i] = out[i]! - mu;
  }
  NORMALIZERS[settings.normalizeActivations](out, settings);
  if (settings.applyBDecToInput) for (let i = 0; i < dIn; i++) out[i] = out[i]! - w.bDec[i]!;
  return out;
}

/** Encodes one token (x[offset .. offset + dIn]). */
export function referenceEncodeToken(w: SaeWeights, settings: EncodeSettings, x: ArrayLike<number>, offset = 0): SparseCode {
  const dims = dimsOf(w);
  return ACTIVATIONS[settings.architecture](prepareInput(x, w, settings, offset), w, settings, dims);
}

/** Encodes tokens x [nTokens, dIn] row-major; one sparse code per token. */
export function referenceEncode(w: SaeWeights, settings: EncodeSettings, x: ArrayLike<number>): SparseCode[] {
  const { dIn } = dimsOf(w);
  if (x.length % dIn !== 0) {
    throw new AppError('sae/mismatch', `The input has ${x.length} numbers, not a whole number of tokens of d_in ${dIn}. The activations come from a hook point of another width.`);
  }
  const codes: SparseCode[] = [];
  for (let offset = 0; offset < x.length; offset += dIn) codes.push(referenceEncodeToken(w, settings, x, offset));
  return codes;
}
