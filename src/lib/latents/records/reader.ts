/**
 * What the records stage reads a cache through, whichever store holds it (IndexedDB, a delphi folder,
 * arrays in memory): one feature at a time for a feature page, or block after block of features for
 * passes over all of them, so a pass reads each stored byte once and holds one block at a time.
 */

/** One feature's activations: global token indices (row * ctx + position), increasing, and their values. */
export interface FeatureActivations {
  tokens: Uint32Array;
  values: Float32Array;
}

/**
 * The activations of features [start, end), grouped by feature: feature `start + i` owns entries
 * `offsets[i] .. offsets[i + 1]` of `tokens` and `values`, tokens increasing within a feature.
 */
export interface FeatureBlock {
  start: number;
  end: number;
  offsets: Uint32Array;
  tokens: Uint32Array;
  values: Float32Array;
}

/** A token matrix, [nRows * ctx] row-major. */
export type TokenMatrix = Uint32Array | Int32Array;

export interface CacheReader {
  /** The hook point the activations were taken at (delphi's folder name, or the SAE's hook). */
  readonly hook: string;
  /** Rows whose activations are stored (a paused run's stored rows only). */
  readonly nRows: number;
  readonly ctx: number;
  readonly width: number;
  /** Whether every row starts with BOS: the default for skipping activations at position 0. */
  readonly prependBos: boolean;
  /** Stored non-zeros in all. */
  readonly nonZeros: number;
  /** The token matrix of the stored rows (read once, then kept). */
  tokens(): Promise<TokenMatrix>;
  /** One feature's activations. */
  feature(feature: number): Promise<FeatureActivations>;
  /** Every feature's activations, block after block in feature order, each block read once. */
  blocks(signal?: AbortSignal): AsyncIterable<FeatureBlock>;
}

/** Feature `feature`'s activations in `block` (views, not copies). */
export function featureOf(block: FeatureBlock, feature: number): FeatureActivations {
  const i = feature - block.start;
  const begin = block.offsets[i]!;
  const end = block.offsets[i + 1]!;
  return { tokens: block.tokens.subarray(begin, end), values: block.values.subarray(begin, end) };
}

/** The activations without those at a row's first position (the BOS token when rows start with one). */
export function withoutRowStarts(activations: FeatureActivations, ctx: number): FeatureActivations {
  const { tokens, values } = activations;
  let kept = 0;
  for (let i = 0; i < tokens.length; i++) if (tokens[i]! % ctx !== 0) kept++;
  if (kept === tokens.length) return activations;
  const out = { tokens: new Uint32Array(kept), values: new Float32Array(kept) };
  let at = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]! % ctx === 0) continue;
    out.tokens[at] = tokens[i]!;
    out.values[at++] = values[i]!;
  }
  return out;
}

/**
 * Regroups token-ordered non-zeros of features [start, end) by feature with a counting sort: one pass
 * to count, one to place, so each feature's tokens stay in the order they came (increasing).
 */
export function groupByFeature(start: number, end: number, features: Uint32Array, tokens: Uint32Array, values: Float32Array): FeatureBlock {
  const n = end - start;
  const offsets = new Uint32Array(n + 1);
  for (let i = 0; i < features.length; i++) offsets[features[i]! - start + 1]!++;
  for (let f = 0; f < n; f++) offsets[f + 1]! += offsets[f]!;
  const cursor = offsets.slice(0, n);
  const outTokens = new Uint32Array(features.length);
  const outValues = new Float32Array(features.length);
  for (let i = 0; i < features.length; i++) {
    const at = cursor[features[i]! - start]!++;
    outTokens[at] = tokens[i]!;
    outValues[at] = values[i]!;
  }
  return { start, end, offsets, tokens: outTokens, values: outValues };
}
