import type { SparseActivations } from '../types.ts';

/**
 * Packs TopK output ([tokens, k] values and indices, strongest first) into CSR, keeping only values > 0
 * (a ReLU SAE's cap can exceed its active count; TopK SAEs can have fewer than k positive values).
 */
export function packTopK(values: Float32Array, indices: BigInt64Array | Int32Array, tokens: number, k: number): SparseActivations {
  const offsets = new Uint32Array(tokens + 1);
  const features: number[] = [];
  const kept: number[] = [];
  const order: number[] = [];
  for (let t = 0; t < tokens; t++) {
    order.length = 0;
    for (let j = 0; j < k; j++) if (values[t * k + j]! > 0) order.push(t * k + j);
    order.sort((a, b) => Number(indices[a]!) - Number(indices[b]!));
    for (const at of order) {
      features.push(Number(indices[at]!));
      kept.push(values[at]!);
    }
    offsets[t + 1] = features.length;
  }
  return { tokens, offsets, features: Uint32Array.from(features), values: Float32Array.from(kept) };
}

/** Concatenates CSR batches (tokens in order). */
export function concatSparse(parts: SparseActivations[]): SparseActivations {
  const tokens = parts.reduce((n, p) => n + p.tokens, 0);
  const nnz = parts.reduce((n, p) => n + p.features.length, 0);
  const out: SparseActivations = { tokens, offsets: new Uint32Array(tokens + 1), features: new Uint32Array(nnz), values: new Float32Array(nnz) };
  let t = 0;
  let at = 0;
  for (const part of parts) {
    for (let i = 1; i <= part.tokens; i++) out.offsets[t + i] = at + part.offsets[i]!;
    out.features.set(part.features, at);
    out.values.set(part.values, at);
    t += part.tokens;
    at += part.features.length;
  }
  return out;
}

/** How closely one encoding of some tokens follows a reference encoding of the same tokens. */
export interface SparseAgreement {
  tokens: number;
  /** Tokens whose active features are exactly the reference's. */
  sameFeatures: number;
  /** Of the reference's active features, the share also active here. */
  featureRecall: number;
  /** The largest |value - reference value| over features active in both, over the largest reference value. */
  worstRelative: number;
}

export function compareSparse(actual: SparseActivations, reference: SparseActivations): SparseAgreement {
  let scale = 0;
  for (const v of reference.values) scale = Math.max(scale, Math.abs(v));
  let same = 0;
  let found = 0;
  let worst = 0;
  for (let t = 0; t < reference.tokens; t++) {
    const [aStart, aEnd, rStart, rEnd] = [actual.offsets[t]!, actual.offsets[t + 1]!, reference.offsets[t]!, reference.offsets[t + 1]!];
    let shared = 0;
    // Both lists are in increasing feature order: walk them together.
    for (let a = aStart, r = rStart; a < aEnd && r < rEnd;) {
      const [fa, fr] = [actual.features[a]!, reference.features[r]!];
      if (fa < fr) a++;
      else if (fr < fa) r++;
      else {
        shared++;
        worst = Math.max(worst, Math.abs(actual.values[a++]! - reference.values[r++]!) / (scale || 1));
      }
    }
    found += shared;
    if (shared === rEnd - rStart && shared === aEnd - aStart) same++;
  }
  const active = reference.offsets[reference.tokens]!;
  return { tokens: reference.tokens, sameFeatures: same, featureRecall: active ? found / active : 1, worstRelative: worst };
}
