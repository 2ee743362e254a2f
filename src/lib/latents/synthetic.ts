/**
 * Synthetic TopK activations for measuring the store (npm run bench): distinct pseudo-random features
 * per token, values spread like real activations, from the project's seeded generator.
 */
import { Prng } from '../util/index.ts';
import type { SparseActivations } from '../types.ts';

export function syntheticTopK(tokens: number, k: number, width: number, seed = 1): SparseActivations {
  const prng = new Prng(seed);
  const offsets = Uint32Array.from({ length: tokens + 1 }, (_, t) => t * k);
  const features = new Uint32Array(tokens * k);
  const values = new Float32Array(tokens * k);
  const picked = new Set<number>();
  for (let t = 0; t < tokens; t++) {
    picked.clear();
    while (picked.size < k) picked.add(prng.int(width));
    [...picked].sort((a, b) => a - b).forEach((f, j) => {
      features[t * k + j] = f;
      values[t * k + j] = 0.5 + 10 * prng.uniform();
    });
  }
  return { tokens, offsets, features, values };
}

/** A token matrix of `tokens` ids below `vocab`. */
export function syntheticTokens(tokens: number, vocab: number, seed = 2): Uint32Array {
  const prng = new Prng(seed);
  return Uint32Array.from({ length: tokens }, () => prng.int(vocab));
}
