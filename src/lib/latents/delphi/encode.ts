/**
 * One split file written as delphi writes it (dtypes and order as described in index.ts). The
 * pieces export.ts streams with (shape check, token tensor, encode with that tensor) are exported too,
 * so that a many-split export converts the token matrix once.
 */
import { AppError } from '../../errors.ts';
import { encodeSafetensors, float32BitsToFloat16Bits } from '../../formats/index.ts';
import { compareAt, sortOrder } from './order.ts';
import type { SparseActivations } from '../../types.ts';
import type { DelphiSplitRange } from './ranges.ts';

/** A split's non-zeros, one entry per (row, position, feature); features are absolute ids. */
export interface DelphiNonZeros {
  rows: Uint32Array;
  positions: Uint32Array;
  features: Uint32Array;
  values: Float32Array;
}

/**
 * Non-zeros to export. `values` are float32, or float16 bits in a Uint16Array (as our own cache stores
 * them: they are then written unchanged, with no round trip through float32).
 */
export interface DelphiNonZerosInput extends Omit<DelphiNonZeros, 'values'> {
  values: Float32Array | Uint16Array;
}

/**
 * The non-zeros of a split's feature range in token-major activations (the engine's, or synthetic ones):
 * token t is row `floor(t / ctx)`, position `t % ctx`.
 */
export function delphiNonZerosOf(sparse: SparseActivations, ctx: number, range: DelphiSplitRange): DelphiNonZeros {
  const rows: number[] = [];
  const positions: number[] = [];
  const features: number[] = [];
  const values: number[] = [];
  const tokens = sparse.offsets.length - 1;
  for (let t = 0; t < tokens; t++) {
    for (let i = sparse.offsets[t]!; i < sparse.offsets[t + 1]!; i++) {
      const f = sparse.features[i]!;
      if (f < range.start || f > range.end) continue;
      rows.push(Math.floor(t / ctx));
      positions.push(t % ctx);
      features.push(f);
      values.push(sparse.values[i]!);
    }
  }
  return { rows: Uint32Array.from(rows), positions: Uint32Array.from(positions), features: Uint32Array.from(features), values: Float32Array.from(values) };
}

export interface DelphiSplitInput extends DelphiNonZerosInput, DelphiSplitRange {
  /** [nRows * ctx] token ids, row-major. */
  tokens: Int32Array | Uint32Array;
  nRows: number;
  ctx: number;
}

/**
 * Writes one `<start>_<end>.safetensors` file. The non-zeros may come in any order (they are sorted
 * by (row, position, feature)); every feature must lie in [start, end], every row below nRows, every
 * position below ctx, and no (row, position, feature) may appear twice.
 */
export function encodeDelphiSplit(input: DelphiSplitInput): Uint8Array<ArrayBuffer> {
  checkShape(input.nRows, input.ctx, input.tokens.length);
  return encodeSplitWith(input, tokensTensor(input.tokens));
}

export function encodeSplitWith(input: DelphiNonZerosInput & DelphiSplitRange & { nRows: number; ctx: number }, tokens: Uint32Array): Uint8Array<ArrayBuffer> {
  const { start, end, rows, positions, features, values, nRows, ctx } = input;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= 2 ** 32) {
    throw new AppError('delphi/bad-input', `Invalid split range ${start}_${end}.`);
  }
  const n = rows.length;
  if (positions.length !== n || features.length !== n || values.length !== n) {
    throw new AppError('delphi/bad-input', `rows, positions, features and values must have one entry per non-zero; got ${n}, ${positions.length}, ${features.length}, ${values.length}.`);
  }
  let maxRow = 0;
  let maxPosition = 0;
  let maxOffset = 0;
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    const position = positions[i]!;
    const feature = features[i]!;
    if (row >= nRows) throw new AppError('delphi/bad-input', `Non-zero ${i} is in row ${row}, but the token matrix has ${nRows} rows.`);
    if (position >= ctx) throw new AppError('delphi/bad-input', `Non-zero ${i} is at position ${position}, but rows have ${ctx} tokens.`);
    if (feature < start || feature > end) throw new AppError('delphi/bad-input', `Non-zero ${i} is feature ${feature}, outside the split ${start}_${end}.`);
    if (row > maxRow) maxRow = row;
    if (position > maxPosition) maxPosition = position;
    if (feature - start > maxOffset) maxOffset = feature - start;
    if (sorted && i > 0 && compareAt(rows, positions, features, i - 1, i) >= 0) sorted = false;
  }
  const order = sorted ? null : sortOrder(rows, positions, features, start, end, nRows, ctx);
  if (order) {
    for (let j = 1; j < n; j++) {
      if (compareAt(rows, positions, features, order[j - 1]!, order[j]!) === 0) {
        const i = order[j]!;
        throw new AppError('delphi/bad-input', `(row ${rows[i]}, position ${positions[i]}, feature ${features[i]}) appears twice.`);
      }
    }
  }
  const wide = maxRow >= 2 ** 16 || maxOffset >= 2 ** 16 || maxPosition >= 2 ** 16;
  const locations = wide ? new Uint32Array(n * 3) : new Uint16Array(n * 3);
  const halves = new Uint16Array(n);
  // float32 values are read as their bit patterns: no per-value allocation.
  const source = values instanceof Float32Array ? new Uint32Array(values.buffer, values.byteOffset, n) : values;
  const convert = values instanceof Float32Array;
  for (let j = 0; j < n; j++) {
    const i = order ? order[j]! : j;
    locations[3 * j] = rows[i]!;
    locations[3 * j + 1] = positions[i]!;
    locations[3 * j + 2] = features[i]! - start;
    halves[j] = convert ? float32BitsToFloat16Bits(source[i]!) : source[i]!;
  }
  // I64 first, then the locations, then F16: every tensor starts aligned to its element size.
  // encodeSafetensors allocates a fresh ArrayBuffer.
  return encodeSafetensors({
    tokens: { dtype: 'I64', shape: [nRows, ctx], data: tokens },
    locations: { dtype: wide ? 'U32' : 'U16', shape: [n, 3], data: locations },
    activations: { dtype: 'F16', shape: [n], data: halves },
  }) as Uint8Array<ArrayBuffer>;
}

export function checkShape(nRows: number, ctx: number, tokens: number): void {
  if (!Number.isSafeInteger(nRows) || nRows < 1 || !Number.isSafeInteger(ctx) || ctx < 1) {
    throw new AppError('delphi/bad-input', `nRows and ctx must be positive integers, got ${nRows} and ${ctx}.`);
  }
  if (tokens !== nRows * ctx) throw new AppError('delphi/bad-input', `The token matrix has ${tokens} entries, but ${nRows} rows of ${ctx} need ${nRows * ctx}.`);
}

/** Token ids as little-endian int64 words (low, high) for the `tokens` tensor. */
export function tokensTensor(tokens: Int32Array | Uint32Array): Uint32Array {
  const out = new Uint32Array(tokens.length * 2);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token < 0) throw new AppError('delphi/bad-input', `Token ${i} has the negative id ${token}.`);
    out[2 * i] = token;
  }
  return out;
}
