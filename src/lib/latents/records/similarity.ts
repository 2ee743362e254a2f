/**
 * The features most like a feature (delphi `latents/neighbours.py`), for neighbour negatives and the
 * feature page: by the cosine of their SAE weight vectors (the caller that holds the SAE passes the
 * matrix), or by how often they fire in the same windows (Jaccard of their window sets). For all
 * features at once the Jaccard is estimated from MinHash sketches built in one pass over the
 * non-zeros (O(non-zeros), where the exact co-occurrence matrix would be width x width).
 */
import { AppError } from '../../errors.ts';
import { eventLoopBreather, Prng, throwIfAborted, type ProgressCallback } from '../../util/index.ts';
import { recordOptions } from './options.ts';
import type { CacheReader } from './reader.ts';
import { lowerBound } from './windows.ts';

export interface Neighbour {
  feature: number;
  similarity: number;
}

/** An SAE weight matrix with one vector per feature: W_dec is [width, dim] ('feature-major'), SAELens' W_enc [dim, width] ('dim-major'). */
export interface FeatureVectors {
  data: Float32Array;
  width: number;
  dim: number;
  layout: 'feature-major' | 'dim-major';
}

/** The `k` best-scoring features other than `feature` with a score above `floor`, best first (ties: lower index first). */
function best(scores: Float64Array, feature: number, k: number, floor: number): Neighbour[] {
  const top: Neighbour[] = [];
  if (k < 1) return top;
  for (let g = 0; g < scores.length; g++) {
    const score = scores[g]!;
    if (g === feature || !(score > floor) || (top.length === k && score <= top[k - 1]!.similarity)) continue;
    let at = top.length === k ? k - 1 : top.length;
    while (at > 0 && top[at - 1]!.similarity < score) at--;
    top.splice(at, 0, { feature: g, similarity: score });
    if (top.length > k) top.pop();
  }
  return top;
}

/** The `k` features whose weight vectors have the highest cosine with `feature`'s (zero vectors: 0). */
export function cosineNeighbours(vectors: FeatureVectors, feature: number, k = 10): Neighbour[] {
  const { data, width, dim } = vectors;
  if (data.length !== width * dim) throw new AppError('sae/bad-shape', `The weight matrix holds ${data.length} values, not ${width} features x ${dim}.`);
  if (!(feature >= 0 && feature < width)) throw new AppError('sae/bad-shape', `Feature ${feature} is outside the weight matrix's ${width} features.`);
  const dots = new Float64Array(width);
  const norms = new Float64Array(width);
  // Loops in memory order for each layout (a strided walk over a 100M-value matrix is several times slower).
  if (vectors.layout === 'feature-major') {
    const own = data.subarray(feature * dim, feature * dim + dim);
    for (let g = 0; g < width; g++) {
      let dot = 0;
      let norm = 0;
      for (let d = 0, base = g * dim; d < dim; d++) {
        const y = data[base + d]!;
        dot += own[d]! * y;
        norm += y * y;
      }
      dots[g] = dot;
      norms[g] = norm;
    }
  } else {
    for (let d = 0; d < dim; d++) {
      const row = d * width;
      const x = data[row + feature]!;
      for (let g = 0; g < width; g++) {
        const y = data[row + g]!;
        dots[g]! += x * y;
        norms[g]! += y * y;
      }
    }
  }
  for (let g = 0; g < width; g++) dots[g] = norms[g]! > 0 && norms[feature]! > 0 ? dots[g]! / Math.sqrt(norms[g]! * norms[feature]!) : 0;
  return best(dots, feature, k, -Infinity);
}

/** |A ∩ B| / |A ∪ B| of two increasing lists of window indices (0 when both are empty). */
export function windowJaccard(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  let j = 0;
  let both = 0;
  while (i < a.length && j < b.length) {
    if (a[i]! === b[j]!) both++, i++, j++;
    else if (a[i]! < b[j]!) i++;
    else j++;
  }
  const union = a.length + b.length - both;
  return union ? both / union : 0;
}

/**
 * Bottom-k MinHash sketches: per feature the `sketchSize` smallest hashes of its activating windows
 * under one random bijection. One hash per window (not one per window per hash function), so the
 * pass costs about as much as reading the non-zeros.
 */
export interface MinHashSketches {
  sketchSize: number;
  width: number;
  /** Window length the windows were cut with. */
  length: number;
  /** [width * sketchSize]: feature f's sketch, increasing, fills the first min(sketchSize, sizes[f]) slots. */
  sketches: Uint32Array;
  /** Activating windows per feature. */
  sizes: Uint32Array;
}

/** A 32-bit mixer (murmur3's finaliser): a bijection, so distinct windows never share a hash. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface MinHashOptions {
  /** Window length (default: the records' 32); must divide the rows. */
  exampleCtx?: number;
  /** Default: whether the cache's rows start with BOS. */
  skipBosPosition?: boolean;
  /** Hashes kept per feature; the estimate's standard error is about sqrt(J (1 - J) / sketchSize). Default 64. */
  sketchSize?: number;
  seed?: number;
}

/** MinHash sketches of every feature's window set, block after block. */
export async function minHashSketches(
  reader: CacheReader,
  options: MinHashOptions = {},
  control: { signal?: AbortSignal; onProgress?: ProgressCallback } = {},
): Promise<MinHashSketches> {
  const { exampleCtx: L, skipBosPosition: skip } = recordOptions({ exampleCtx: options.exampleCtx, skipBosPosition: options.skipBosPosition }, reader);
  const { width, ctx } = reader;
  const K = options.sketchSize ?? 64;
  if (!Number.isSafeInteger(K) || K < 1) throw new AppError('cache/bad-input', `The sketch size must be a whole number of 1 or more, got ${K}.`);
  const salt = new Prng(options.seed ?? 22).nextUint32();
  const sketches = new Uint32Array(width * K);
  const sizes = new Uint32Array(width);
  const breathe = eventLoopBreather();
  for await (const block of reader.blocks(control.signal)) {
    for (let f = block.start; f < block.end; f++) {
      const base = f * K;
      let last = -1;
      let filled = 0;
      for (let j = block.offsets[f - block.start]!; j < block.offsets[f - block.start + 1]!; j++) {
        const token = block.tokens[j]!;
        if (skip && token % ctx === 0) continue;
        const window = Math.floor(token / L);
        if (window === last) continue;
        last = window;
        sizes[f]!++;
        const x = mix32(window ^ salt);
        if (filled === K && x >= sketches[base + K - 1]!) continue;
        // Insertion into the sorted sketch: after the first K windows this is rare (about K ln(n / K) times).
        let at = filled < K ? filled++ : K - 1;
        while (at > 0 && sketches[base + at - 1]! > x) {
          sketches[base + at] = sketches[base + at - 1]!;
          at--;
        }
        sketches[base + at] = x;
      }
    }
    control.onProgress?.({ stage: 'minhash', done: block.end, total: width, text: `Co-occurrence sketches: ${block.end} of ${width} features` });
    await breathe();
    throwIfAborted(control.signal, 'Computing co-occurrence sketches');
  }
  return { sketchSize: K, width, length: L, sketches, sizes };
}

/**
 * Which features hold each hash in their sketch (hashes sorted, features of a hash in `features`
 * between `starts[i]` and `starts[i + 1]`): two features whose sketches share no hash have an estimate
 * of 0, so a query scores only the features that share one, not all of the width.
 */
interface SketchIndex {
  hashes: Uint32Array;
  starts: Uint32Array;
  features: Uint32Array;
}

const sketchIndexes = new WeakMap<MinHashSketches, SketchIndex>();

function sketchIndex(minHash: MinHashSketches): SketchIndex {
  const known = sketchIndexes.get(minHash);
  if (known) return known;
  const { sketchSize: K, width, sketches, sizes } = minHash;
  let n = 0;
  for (let f = 0; f < width; f++) n += Math.min(K, sizes[f]!);
  // One float64 key per (hash, feature) pair: hash * 2^21 + feature is exact below 2^53 (features < 2^21).
  const keys = new Float64Array(n);
  let at = 0;
  for (let f = 0; f < width; f++) for (let i = 0, m = Math.min(K, sizes[f]!); i < m; i++) keys[at++] = sketches[f * K + i]! * 2 ** 21 + f;
  keys.sort();
  const hashes: number[] = [];
  const starts: number[] = [];
  const features = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const hash = Math.floor(keys[i]! / 2 ** 21);
    features[i] = keys[i]! - hash * 2 ** 21;
    if (hashes[hashes.length - 1] !== hash) {
      hashes.push(hash);
      starts.push(i);
    }
  }
  starts.push(n);
  const index = { hashes: Uint32Array.from(hashes), starts: Uint32Array.from(starts), features };
  sketchIndexes.set(minHash, index);
  return index;
}

/**
 * The `k` features with the highest estimated window Jaccard with `feature` (features never active
 * left out): of the sketchSize smallest hashes of the union of two sketches, the share in both
 * (exact when both features have fewer windows than sketchSize). Only features that share a sketch
 * hash are scored (an index built once per set of sketches), so asking for every feature's neighbours
 * costs far less than width x width sketch comparisons.
 */
export function jaccardNeighbours(minHash: MinHashSketches, feature: number, k = 10): Neighbour[] {
  const { sketchSize: K, width, sketches, sizes } = minHash;
  if (width >= 2 ** 21) throw new AppError('cache/bad-input', `Co-occurrence neighbours support up to ${2 ** 21} features, not ${width}.`);
  const scores = new Float64Array(width);
  const na = Math.min(K, sizes[feature]!);
  const a = feature * K;
  const index = sketchIndex(minHash);
  const candidates = new Set<number>();
  for (let i = 0; i < na; i++) {
    const h = lowerBound(index.hashes, sketches[a + i]!);
    for (let j = index.starts[h]!; j < index.starts[h + 1]!; j++) candidates.add(index.features[j]!);
  }
  for (const g of candidates) {
    const nb = Math.min(K, sizes[g]!);
    const b = g * K;
    let i = 0;
    let j = 0;
    let taken = 0;
    let both = 0;
    for (; taken < K && (i < na || j < nb); taken++) {
      const x = i < na ? sketches[a + i]! : Infinity;
      const y = j < nb ? sketches[b + j]! : Infinity;
      if (x === y) both++, i++, j++;
      else if (x < y) i++;
      else j++;
    }
    scores[g] = both / taken;
  }
  return best(scores, feature, k, 0);
}
