/**
 * What a feature writes, read through the model: its decoder direction's logit effects (the direction
 * times the unembedding, without the final layer norm, as the dashboards we learn from do), for the
 * feature pages.
 */
import { AppError } from '../errors.ts';
import type { TokenEmbedding } from '../model/index.ts';

export interface TokenEffect {
  token: number;
  value: number;
}

/** Feature `feature`'s decoder row of W_dec [width, dIn] (a view). */
export function decoderDirection(wDec: Float32Array, dIn: number, feature: number): Float32Array {
  const width = wDec.length / dIn;
  if (!Number.isSafeInteger(width)) throw new AppError('sae/bad-shape', `W_dec holds ${wDec.length} values, not a whole number of rows of ${dIn}.`);
  if (!(Number.isSafeInteger(feature) && feature >= 0 && feature < width)) throw new AppError('sae/bad-shape', `Feature ${feature} is outside the SAE's ${width} features.`);
  return wDec.subarray(feature * dIn, feature * dIn + dIn);
}

/**
 * The `k` tokens whose logits the direction raises most and the `k` it lowers most: direction @ W_U,
 * where GPT-2's W_U is its token embedding transposed. Strongest first in both lists.
 */
export function logitEffects(direction: Float32Array, embedding: TokenEmbedding, k = 10): { top: TokenEffect[]; bottom: TokenEffect[] } {
  const { data, vocab, dim } = embedding;
  if (direction.length !== dim) throw new AppError('sae/mismatch', `The decoder direction has ${direction.length} numbers and the model's embedding ${dim}.`);
  const logits = new Float32Array(vocab);
  for (let t = 0; t < vocab; t++) {
    let dot = 0;
    for (let d = 0, base = t * dim; d < dim; d++) dot += direction[d]! * data[base + d]!;
    logits[t] = dot;
  }
  // Ids by logit, ties by id: a full sort of 50k floats costs a few ms next to the 38M multiply-adds above.
  const order = Array.from({ length: vocab }, (_, t) => t).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const take = Math.min(k, vocab);
  return {
    top: order.slice(0, take).map((token) => ({ token, value: logits[token]! })),
    bottom: order.slice(vocab - take).reverse().map((token) => ({ token, value: logits[token]! })),
  };
}
