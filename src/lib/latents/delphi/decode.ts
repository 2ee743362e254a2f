/**
 * One split file read back, with any integer or float dtype delphi or another tool may have used.
 * The header checks and tensor readers are exported for folder.ts, which checks a whole folder from
 * headers before any split is decoded.
 */
import { AppError } from '../../errors.ts';
import { DTYPE_BYTES, decodeFloatTensor, SafetensorsReader, type Dtype, type TensorEntry } from '../../formats/index.ts';
import type { DelphiNonZeros } from './encode.ts';
import { compareAt, sortOrder } from './order.ts';
import { rangeFromPath, type DelphiSplitRange } from './ranges.ts';

export interface DelphiSplit extends DelphiNonZeros, DelphiSplitRange {
  /** [nRows * ctx] token ids, row-major; null when the file has no tokens or they were not asked for. */
  tokens: Int32Array | null;
  nRows: number;
  ctx: number;
  /** The dtype the file stored its locations in (delphi: U16 or U32). */
  locationsDtype: Dtype;
}

export interface DecodeSplitOptions {
  /** Decode the token matrix too (default true). Pass false when reading many splits of one folder. */
  tokens?: boolean;
  /** The folder's matrix shape, required when the file has no `tokens` tensor; checked against it otherwise. */
  nRows?: number;
  ctx?: number;
}

const INT_DTYPES: readonly Dtype[] = ['U8', 'U16', 'U32', 'U64', 'I8', 'I16', 'I32', 'I64'];
const FLOAT_DTYPES: readonly Dtype[] = ['F16', 'F32', 'BF16', 'F64'];

/**
 * Reads one split file. `name` is its file name or path (the range comes from the name). Non-zeros
 * come back sorted by (row, position, feature) even if the file's were not.
 */
export async function decodeDelphiSplit(source: Uint8Array | Blob, name: string, options: DecodeSplitOptions = {}): Promise<DelphiSplit> {
  const range = rangeFromPath(name);
  const reader = await openSplit(source, name);
  const shape = splitShape(reader, name, options);
  const { locations: locationsEntry, activations: activationsEntry, nRows, ctx } = shape;
  if (nRows === undefined || ctx === undefined) {
    throw new AppError('delphi/missing-tokens', `${name} has no "tokens" tensor (delphi ran with save_tokens=False), so the size of its token matrix is unknown. Read it through readDelphiFolder with the rest of its folder, or pass nRows and ctx.`);
  }
  const n = locationsEntry.shape[0]!;
  const span = range.end - range.start + 1;

  const flat = intTensorToUint32(locationsEntry, await reader.raw('locations'), name);
  const rows = new Uint32Array(n);
  const positions = new Uint32Array(n);
  const features = new Uint32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const row = flat[3 * i]!;
    const position = flat[3 * i + 1]!;
    const offset = flat[3 * i + 2]!;
    if (row >= nRows || position >= ctx || offset >= span) {
      throw new AppError(
        'delphi/out-of-range',
        `${name}: location ${i} is (row ${row}, position ${position}, feature offset ${offset}), outside the ${nRows} x ${ctx} token matrix or the ${span} features of split ${range.start}_${range.end}.`,
      );
    }
    rows[i] = row;
    positions[i] = position;
    features[i] = range.start + offset;
    if (sorted && i > 0 && compareAt(rows, positions, features, i - 1, i) >= 0) sorted = false;
  }
  const values = decodeFloatTensor(activationsEntry, await reader.raw('activations'));
  let result: DelphiNonZeros = { rows, positions, features, values };
  if (!sorted) {
    const order = sortOrder(rows, positions, features, range.start, range.end, nRows, ctx);
    result = permute(result, order);
    for (let j = 1; j < n; j++) {
      if (compareAt(result.rows, result.positions, result.features, j - 1, j) === 0) {
        throw new AppError('delphi/bad-split', `${name}: (row ${result.rows[j]}, position ${result.positions[j]}, feature ${result.features[j]}) appears twice.`);
      }
    }
  }
  let tokens: Int32Array | null = null;
  if ((options.tokens ?? true) && shape.tokens) tokens = tokensFromTensor(shape.tokens, await reader.raw('tokens'), name);
  return { ...range, ...result, tokens, nRows, ctx, locationsDtype: locationsEntry.dtype };
}

function permute(data: DelphiNonZeros, order: Uint32Array): DelphiNonZeros {
  const n = order.length;
  const out: DelphiNonZeros = { rows: new Uint32Array(n), positions: new Uint32Array(n), features: new Uint32Array(n), values: new Float32Array(n) };
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    out.rows[j] = data.rows[i]!;
    out.positions[j] = data.positions[i]!;
    out.features[j] = data.features[i]!;
    out.values[j] = data.values[i]!;
  }
  return out;
}

export async function openSplit(source: Uint8Array | Blob, name: string): Promise<SafetensorsReader> {
  try {
    return source instanceof Uint8Array ? SafetensorsReader.fromBytes(source) : await SafetensorsReader.fromBlob(source);
  } catch (error) {
    if (error instanceof AppError) throw new AppError('delphi/bad-split', `${name}: ${error.message}`);
    throw error;
  }
}

export interface SplitShape {
  locations: TensorEntry;
  activations: TensorEntry;
  tokens: TensorEntry | null;
  /** From the token matrix, or the expected shape when the file has none (undefined if neither). */
  nRows: number | undefined;
  ctx: number | undefined;
}

/** Checks the three tensors' presence, dtypes and shapes from the header alone. */
export function splitShape(reader: SafetensorsReader, name: string, expected: { nRows?: number; ctx?: number }): SplitShape {
  for (const tensor of ['locations', 'activations']) {
    if (!reader.has(tensor)) {
      throw new AppError('delphi/bad-split', `${name} has no "${tensor}" tensor (it has: ${[...reader.header.tensors.keys()].join(', ') || 'none'}). Is this a delphi cache split?`);
    }
  }
  const locations = reader.entry('locations');
  const activations = reader.entry('activations');
  const tokens = reader.has('tokens') ? reader.entry('tokens') : null;
  if (!INT_DTYPES.includes(locations.dtype)) throw new AppError('delphi/bad-dtype', `${name}: "locations" is ${locations.dtype}; an integer dtype was expected (delphi writes U16 or U32).`);
  if (!FLOAT_DTYPES.includes(activations.dtype)) throw new AppError('delphi/bad-dtype', `${name}: "activations" is ${activations.dtype}; a float dtype was expected (delphi writes F16).`);
  if (tokens && !INT_DTYPES.includes(tokens.dtype)) throw new AppError('delphi/bad-dtype', `${name}: "tokens" is ${tokens.dtype}; an integer dtype was expected (delphi writes I64).`);
  if (locations.shape.length !== 2 || locations.shape[1] !== 3) {
    throw new AppError('delphi/bad-split', `${name}: "locations" has shape ${JSON.stringify(locations.shape)}; [N, 3] (row, position, feature) was expected.`);
  }
  if (activations.shape.length !== 1 || activations.shape[0] !== locations.shape[0]) {
    throw new AppError('delphi/bad-split', `${name}: "activations" has shape ${JSON.stringify(activations.shape)} but "locations" has ${locations.shape[0]} rows; they must match.`);
  }
  let nRows = expected.nRows;
  let ctx = expected.ctx;
  if (tokens) {
    if (tokens.shape.length !== 2 || tokens.shape[0]! < 1 || tokens.shape[1]! < 1) {
      throw new AppError('delphi/bad-split', `${name}: "tokens" has shape ${JSON.stringify(tokens.shape)}; [n_rows, ctx] was expected.`);
    }
    const [rows, columns] = tokens.shape as [number, number];
    if ((nRows !== undefined && nRows !== rows) || (ctx !== undefined && ctx !== columns)) {
      throw new AppError('delphi/mismatch', `${name}: the token matrix is ${rows} x ${columns}, but the other splits' is ${nRows} x ${ctx}. All splits of a hook must come from the same run.`);
    }
    nRows = rows;
    ctx = columns;
  }
  return { locations, activations, tokens, nRows, ctx };
}

/** Any integer tensor as uint32, rejecting negative values and values of 2^32 or more. */
export function intTensorToUint32(entry: TensorEntry, bytes: Uint8Array, name: string): Uint32Array {
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const size = DTYPE_BYTES[entry.dtype];
  // Copy to an aligned buffer so that typed views can be used (slices of a file are often unaligned).
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const buffer = aligned.buffer;
  const at = aligned.byteOffset;
  const bad = (i: number, value: number | string) => {
    throw new AppError('delphi/out-of-range', `${name}: "${entry.name}" holds ${value} at index ${i}; ids must be between 0 and 2^32 - 1.`);
  };
  switch (entry.dtype) {
    case 'U8':
    case 'U16': {
      const out = new Uint32Array(n);
      out.set(entry.dtype === 'U8' ? new Uint8Array(buffer, at, n) : new Uint16Array(buffer, at, n));
      return out;
    }
    case 'U32':
      return new Uint32Array(buffer, at, n).slice();
    case 'I8':
    case 'I16':
    case 'I32': {
      const source = entry.dtype === 'I8' ? new Int8Array(buffer, at, n) : entry.dtype === 'I16' ? new Int16Array(buffer, at, n) : new Int32Array(buffer, at, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const value = source[i]!;
        if (value < 0) bad(i, value);
        out[i] = value;
      }
      return out;
    }
    case 'U64':
    case 'I64': {
      const words = new Uint32Array(buffer, at, 2 * n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        if (words[2 * i + 1] !== 0) bad(i, new DataView(buffer, at + 8 * i, 8)[entry.dtype === 'I64' ? 'getBigInt64' : 'getBigUint64'](0, true).toString());
        out[i] = words[2 * i]!;
      }
      return out;
    }
    default:
      throw new AppError('delphi/bad-dtype', `${name}: "${entry.name}" is ${entry.dtype}; an integer dtype was expected.`);
  }
}

export function tokensFromTensor(entry: TensorEntry, bytes: Uint8Array, name: string): Int32Array {
  const ids = intTensorToUint32(entry, bytes, name);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]! >= 2 ** 31) throw new AppError('delphi/out-of-range', `${name}: token ${i} has the id ${ids[i]}, beyond any vocabulary.`);
  }
  return new Int32Array(ids.buffer, ids.byteOffset, ids.length);
}
