/**
 * A cache held in memory: the engine's token-major activations (or `syntheticTopK`'s) over a token
 * matrix, regrouped by feature once. For tests, benchmarks and caches small enough to hold.
 */
import { AppError } from '../../errors.ts';
import { SHARD_FEATURES } from '../../storage/index.ts';
import type { SparseActivations } from '../../types.ts';
import { featureOf, groupByFeature, type CacheReader, type FeatureBlock, type TokenMatrix } from './reader.ts';

export interface MemoryCacheInput {
  /** [nRows * ctx] token ids. */
  tokens: TokenMatrix;
  ctx: number;
  width: number;
  /** Activations of every token of the matrix, token t = row * ctx + position. */
  activations: SparseActivations;
  hook?: string;
  prependBos?: boolean;
}

export function memoryCacheReader(input: MemoryCacheInput): CacheReader {
  const { tokens, ctx, width, activations } = input;
  if (tokens.length % ctx !== 0 || activations.tokens !== tokens.length) {
    throw new AppError('cache/bad-input', `The activations cover ${activations.tokens} tokens and the matrix holds ${tokens.length}; both must be the same whole number of rows of ${ctx}.`);
  }
  const tokenOf = new Uint32Array(activations.features.length);
  for (let t = 0; t < activations.tokens; t++) tokenOf.fill(t, activations.offsets[t]!, activations.offsets[t + 1]!);
  for (const feature of activations.features) {
    if (feature >= width) throw new AppError('cache/bad-input', `Feature ${feature} is outside the width of ${width}.`);
  }
  const all: FeatureBlock = groupByFeature(0, width, activations.features, tokenOf, activations.values);
  return {
    hook: input.hook ?? '',
    nRows: tokens.length / ctx,
    ctx,
    width,
    prependBos: input.prependBos ?? false,
    nonZeros: activations.features.length,
    tokens: async () => tokens,
    feature: async (feature) => featureOf(all, feature),
    async *blocks() {
      for (let start = 0; start < width; start += SHARD_FEATURES) {
        const end = Math.min(width, start + SHARD_FEATURES);
        const offsets = all.offsets.subarray(start, end + 1);
        const begin = offsets[0]!;
        const rebased = offsets.map((offset) => offset - begin);
        yield { start, end, offsets: rebased, tokens: all.tokens.subarray(begin, offsets[end - start]), values: all.values.subarray(begin, offsets[end - start]) };
      }
    },
  };
}
