/**
 * Example windows of one feature (delphi `latents/constructors.py`), kept as (start, max) pairs: a
 * window's tokens and activations are read back only for the few windows that become examples, so a
 * feature active in 300000 windows costs two typed arrays, not 300000 objects.
 */
import type { WindowKind } from './options.ts';
import type { FeatureActivations, TokenMatrix } from './reader.ts';

/** A feature's activating windows, strongest first (ties: earlier first). */
export interface FeatureWindows {
  /** Tokens per window. */
  length: number;
  /** Global token index (row * ctx + position) of each window's first token. */
  starts: Uint32Array;
  /** The feature's largest value in each window. */
  maxes: Float32Array;
}

/**
 * The fixed grid: window w holds tokens [w * length, (w + 1) * length); an example is a window where
 * the feature is non-zero. `length` divides the row length, so no window crosses a row.
 */
export function gridWindows(activations: FeatureActivations, length: number): FeatureWindows {
  const { tokens, values } = activations;
  const starts: number[] = [];
  const maxes: number[] = [];
  for (let i = 0; i < tokens.length; ) {
    const window = Math.floor(tokens[i]! / length);
    const end = window * length + length;
    let max = values[i]!;
    for (i++; i < tokens.length && tokens[i]! < end; i++) max = Math.max(max, values[i]!);
    starts.push(window * length);
    maxes.push(max);
  }
  return strongestFirst(length, starts, maxes);
}

/**
 * Centred windows: for each grid window, its peak (the first of equal maxima) is put at position
 * length - floor(length/4) (24 of 32; the last position for windows under 4 tokens), context taken from the same row; a window that would cross the row's
 * start or end is dropped. Unlike delphi's, the activations are this feature's on every token of the
 * new window, also where they fall in a neighbouring grid window.
 */
export function centredWindows(activations: FeatureActivations, length: number, ctx: number): FeatureWindows {
  const { tokens, values } = activations;
  const before = Math.min(length - 1, length - Math.floor(length / 4)); // inside the window also below 4 tokens
  const starts: number[] = [];
  const maxes: number[] = [];
  for (let i = 0; i < tokens.length; ) {
    const end = Math.floor(tokens[i]! / length) * length + length;
    let peak = i;
    for (i++; i < tokens.length && tokens[i]! < end; i++) if (values[i]! > values[peak]!) peak = i;
    const start = tokens[peak]! - before;
    const rowStart = tokens[peak]! - (tokens[peak]! % ctx);
    if (start < rowStart || start + length > rowStart + ctx) continue;
    let max = -Infinity;
    for (let j = lowerBound(tokens, start); j < tokens.length && tokens[j]! < start + length; j++) max = Math.max(max, values[j]!);
    starts.push(start);
    maxes.push(max);
  }
  return strongestFirst(length, starts, maxes);
}

export function featureWindows(activations: FeatureActivations, kind: WindowKind, length: number, ctx: number): FeatureWindows {
  return kind === 'centred' ? centredWindows(activations, length, ctx) : gridWindows(activations, length);
}

/** Windows under this count sort by one packed numeric key (below). */
const PACKED = 2 ** 21;

/**
 * Sorts by max, descending, ties by start. For speed (a comparator sort of 1000 windows costs more
 * than the rest of a record) each window becomes one float64 key, exact below 2^53: the max's float32
 * bits mapped to an order-preserving uint32 and inverted, times 2^21, plus the window's index.
 */
function strongestFirst(length: number, starts: number[], maxes: number[]): FeatureWindows {
  const n = starts.length;
  const order = new Uint32Array(n);
  if (n < PACKED) {
    const bits = new Uint32Array(Float32Array.from(maxes, (max) => max + 0).buffer); // + 0: -0 ties with 0
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const b = bits[i]!;
      const ascending = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
      keys[i] = (0xffffffff - ascending) * PACKED + i;
    }
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = keys[i]! % PACKED;
  } else {
    order.set(Array.from(starts, (_, i) => i).sort((a, b) => maxes[b]! - maxes[a]! || a - b));
  }
  const out = { length, starts: new Uint32Array(n), maxes: new Float32Array(n) };
  for (let i = 0; i < n; i++) {
    out.starts[i] = starts[order[i]!]!;
    out.maxes[i] = maxes[order[i]!]!;
  }
  return out;
}

/** The first index whose value is >= `token` (values increasing): token indices, window indices. */
export function lowerBound(tokens: Uint32Array, token: number): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tokens[mid]! < token) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The feature's value on each of tokens [start, start + length) (0 where it is not active). */
export function valuesIn(activations: FeatureActivations, start: number, length: number): Float32Array {
  const out = new Float32Array(length);
  const { tokens, values } = activations;
  for (let j = lowerBound(tokens, start); j < tokens.length && tokens[j]! < start + length; j++) out[tokens[j]! - start] = values[j]!;
  return out;
}

/** Token ids [start, start + length) of the matrix. */
export function tokensIn(matrix: TokenMatrix, start: number, length: number): number[] {
  const out = new Array<number>(length);
  for (let i = 0; i < length; i++) out[i] = matrix[start + i]!;
  return out;
}

/** The grid windows (index = start / length) in which the feature is non-zero, increasing. */
export function activeGridWindows(activations: FeatureActivations, length: number): Uint32Array {
  const out: number[] = [];
  for (const token of activations.tokens) {
    const window = Math.floor(token / length);
    if (out[out.length - 1] !== window) out.push(window);
  }
  return Uint32Array.from(out);
}
