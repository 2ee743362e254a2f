/**
 * delphi's on-disk activation cache (EleutherAI delphi, `latents/cache.py` `save_splits` and
 * `save_config`; `latents/loader.py` reads it), imported and exported.
 *
 * Per hook point a folder `<hook>/` holds `config.json` and one safetensors file per range of
 * features, named `<start>_<end>.safetensors` with an inclusive end. Each file holds
 *   - `locations` [N, 3]: (row, position, feature - start), sorted by (row, position, feature), the
 *     order `torch.nonzero` produces over [batch, seq, latent] batches taken in row order;
 *   - `activations` [N] float16;
 *   - `tokens` [n_rows, ctx]: the whole token matrix, repeated in every file (absent when delphi ran
 *     with `save_tokens=False`).
 *
 * Dtypes, as delphi writes them and as we write them:
 *   - `locations`: U16 when the largest row and the largest feature offset are both below 2^16, else
 *     U32 (numpy `astype` of the int64 `torch.nonzero` output). delphi does not look at positions:
 *     with a context of more than 65536 tokens it would wrap them silently; we also require the
 *     positions to fit before choosing U16, which changes nothing for any context delphi can use.
 *     A split without non-zeros makes delphi fail (`max()` of an empty array); we write it as an
 *     empty U16 [0, 3] tensor, which delphi's loader reads fine.
 *   - `activations`: F16 (`.half()`, round to nearest even).
 *   - `tokens`: I64, because delphi's tokens come from `datasets` in torch format (int64 tensors) and
 *     are saved with `.numpy()` unchanged.
 * On import any integer dtype is accepted for `locations` and `tokens`, and any float dtype for
 * `activations`; the split ranges are taken from the file names, so they need not follow delphi's
 * rounding as long as they tile [0, width).
 *
 * Export streams one split at a time (a 10M-token cache never has to be in memory at once); import
 * reads headers and the token matrix first (`readDelphiFolder`) and then one split at a time
 * (`decodeDelphiSplit`). Plain TypeScript, no DOM: runs in workers and in Node.
 */
import { AppError } from '../../errors.ts';
import { DTYPE_BYTES, decodeFloatTensor, encodeSafetensors, float32BitsToFloat16Bits, readZip, SafetensorsReader, ZipWriter, type Dtype, type TensorEntry } from '../../formats/index.ts';
import { basename, dirname, isSystemFile, normalizePath, throwIfAborted } from '../../util/index.ts';

// ---------------------------------------------------------------------------------------------------
// Split ranges

/** A range of features [start, end], end inclusive as in delphi's file names. */
export interface DelphiSplitRange {
  start: number;
  end: number;
}

/**
 * The feature ranges delphi writes for `width` features in `nSplits` files.
 *
 * delphi computes `torch.linspace(0, width, nSplits + 1).long()` and uses `[b[i], b[i+1] - 1]`.
 * torch's linspace is float32 and fills the first half of the points as `start + step * i` and the
 * second half as `end - step * (steps - 1 - i)` (step = (end - start) / (steps - 1) in float32);
 * `.long()` truncates. We do the same arithmetic with `Math.fround`, so widths whose float32 rounding
 * crosses an integer come out as delphi's do. For width 32768 and 5 splits that is 0_6552,
 * 6553_13106, 13107_19659, 19660_26213, 26214_32767 (file names seen in real delphi caches).
 */
export function splitRanges(width: number, nSplits: number): DelphiSplitRange[] {
  if (!Number.isSafeInteger(width) || width < 1 || width >= 2 ** 24) {
    throw new AppError('delphi/bad-input', `The SAE width must be an integer from 1 to 2^24 - 1 (float32 splits are exact below that), got ${width}.`);
  }
  if (!Number.isSafeInteger(nSplits) || nSplits < 1 || nSplits > width) {
    throw new AppError('delphi/bad-input', `The number of splits must be an integer from 1 to the width (${width}), got ${nSplits}: delphi would write empty or negative ranges.`);
  }
  const f = Math.fround;
  const steps = nSplits + 1;
  const end = f(width);
  const step = f(end / f(steps - 1));
  const halfway = Math.floor(steps / 2);
  const boundaries: number[] = [];
  for (let i = 0; i < steps; i++) {
    const value = i < halfway ? f(step * f(i)) : f(end - f(step * f(steps - 1 - i)));
    boundaries.push(Math.trunc(value));
  }
  const ranges: DelphiSplitRange[] = [];
  for (let i = 0; i < nSplits; i++) ranges.push({ start: boundaries[i]!, end: boundaries[i + 1]! - 1 });
  return ranges;
}

/** `<start>_<end>.safetensors` */
export const splitFileName = (range: DelphiSplitRange): string => `${range.start}_${range.end}.safetensors`;

const SPLIT_NAME = /^(\d+)_(\d+)\.safetensors$/;

/** Parses `<start>_<end>.safetensors` (the file name only, no folder); null when it does not match. */
export function parseSplitFileName(name: string): DelphiSplitRange | null {
  const match = SPLIT_NAME.exec(name);
  if (!match) return null;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return null;
  return { start, end };
}

// ---------------------------------------------------------------------------------------------------
// config.json

/** delphi's `CacheConfig` plus `model_name`, as written to `<hook>/config.json`. */
export interface DelphiCacheConfig {
  /** Hugging Face dataset the tokens came from ('' when they came from uploaded files). */
  dataset_repo: string;
  dataset_split: string;
  dataset_name: string;
  /** Text column of the dataset. */
  dataset_column: string;
  /** Rows per forward pass. */
  batch_size: number;
  /** Tokens per row. */
  cache_ctx_len: number;
  /** Tokens requested (delphi caches fewer: whole batches of whole rows, at most what the dataset has). */
  n_tokens: number;
  n_splits: number;
  /** Hugging Face model id; delphi loads its tokenizer from it. */
  model_name: string;
}

export interface DelphiConfigOptions {
  modelName: string;
  /** Tokens per row. */
  ctx: number;
  /** Tokens in the cache (rows * ctx). */
  nTokens: number;
  /** Default 5, delphi's. */
  nSplits?: number;
  /** Default 32, delphi's. */
  batchSize?: number;
  datasetRepo?: string;
  datasetSplit?: string;
  datasetName?: string;
  /** Default 'text', delphi's. */
  datasetColumn?: string;
}

/** Builds a config.json object with delphi's key order and defaults. */
export function delphiConfig(options: DelphiConfigOptions): DelphiCacheConfig {
  return {
    dataset_repo: options.datasetRepo ?? '',
    dataset_split: options.datasetSplit ?? '',
    dataset_name: options.datasetName ?? '',
    dataset_column: options.datasetColumn ?? 'text',
    batch_size: options.batchSize ?? 32,
    cache_ctx_len: options.ctx,
    n_tokens: options.nTokens,
    n_splits: options.nSplits ?? 5,
    model_name: options.modelName,
  };
}

/** config.json bytes as Python's `json.dump(config, f, indent=4)` writes them (non-ASCII escaped). */
export function encodeDelphiConfig(config: DelphiCacheConfig): Uint8Array<ArrayBuffer> {
  const ordered = delphiConfig({
    modelName: config.model_name,
    ctx: config.cache_ctx_len,
    nTokens: config.n_tokens,
    nSplits: config.n_splits,
    batchSize: config.batch_size,
    datasetRepo: config.dataset_repo,
    datasetSplit: config.dataset_split,
    datasetName: config.dataset_name,
    datasetColumn: config.dataset_column,
  });
  const json = JSON.stringify(ordered, null, 4).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return new TextEncoder().encode(json);
}

/**
 * Reads config.json. Older delphi versions (sae-auto-interp) wrote `ctx_len` and `dataset_row`; both
 * are accepted. Missing text fields become '' with a warning; missing numbers are an error.
 */
export function parseDelphiConfig(source: string | Uint8Array, path = 'config.json'): { config: DelphiCacheConfig; warnings: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(typeof source === 'string' ? source : new TextDecoder().decode(source));
  } catch (error) {
    throw new AppError('delphi/bad-config', `${path} is not valid JSON (${(error as Error).message}).`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AppError('delphi/bad-config', `${path} is not a JSON object.`);
  const raw = json as Record<string, unknown>;
  const warnings: string[] = [];
  const text = (key: string, ...aliases: string[]): string => {
    for (const k of [key, ...aliases]) {
      if (typeof raw[k] === 'string') return raw[k];
      if (raw[k] !== undefined && raw[k] !== null) throw new AppError('delphi/bad-config', `${path}: "${k}" should be a string, got ${JSON.stringify(raw[k])}.`);
    }
    warnings.push(`${path} has no "${key}".`);
    return '';
  };
  const count = (key: string, ...aliases: string[]): number => {
    for (const k of [key, ...aliases]) {
      if (raw[k] === undefined) continue;
      const value = raw[k];
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new AppError('delphi/bad-config', `${path}: "${k}" should be a non-negative integer, got ${JSON.stringify(value)}.`);
      }
      return value;
    }
    throw new AppError('delphi/bad-config', `${path} has no "${key}"; delphi always writes it. Is this a delphi cache config?`);
  };
  const config: DelphiCacheConfig = {
    dataset_repo: text('dataset_repo'),
    dataset_split: text('dataset_split'),
    dataset_name: text('dataset_name'),
    dataset_column: text('dataset_column', 'dataset_row'),
    batch_size: count('batch_size'),
    cache_ctx_len: count('cache_ctx_len', 'ctx_len'),
    n_tokens: count('n_tokens'),
    n_splits: count('n_splits'),
    model_name: text('model_name'),
  };
  if (config.cache_ctx_len < 1) throw new AppError('delphi/bad-config', `${path}: cache_ctx_len is 0.`);
  return { config, warnings };
}

// ---------------------------------------------------------------------------------------------------
// One split: encode

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

function encodeSplitWith(input: DelphiNonZerosInput & DelphiSplitRange & { nRows: number; ctx: number }, tokens: Uint32Array): Uint8Array<ArrayBuffer> {
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

function checkShape(nRows: number, ctx: number, tokens: number): void {
  if (!Number.isSafeInteger(nRows) || nRows < 1 || !Number.isSafeInteger(ctx) || ctx < 1) {
    throw new AppError('delphi/bad-input', `nRows and ctx must be positive integers, got ${nRows} and ${ctx}.`);
  }
  if (tokens !== nRows * ctx) throw new AppError('delphi/bad-input', `The token matrix has ${tokens} entries, but ${nRows} rows of ${ctx} need ${nRows * ctx}.`);
}

/** Token ids as little-endian int64 words (low, high) for the `tokens` tensor. */
function tokensTensor(tokens: Int32Array | Uint32Array): Uint32Array {
  const out = new Uint32Array(tokens.length * 2);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token < 0) throw new AppError('delphi/bad-input', `Token ${i} has the negative id ${token}.`);
    out[2 * i] = token;
  }
  return out;
}

function compareAt(rows: Uint32Array, positions: Uint32Array, features: Uint32Array, a: number, b: number): number {
  return rows[a]! - rows[b]! || positions[a]! - positions[b]! || features[a]! - features[b]!;
}

/**
 * The permutation that sorts non-zeros by (row, position, feature): two stable counting sorts, by
 * feature then by token index, O(N + tokens + split width). Falls back to a comparison sort when
 * the count arrays would be unreasonably large.
 */
function sortOrder(rows: Uint32Array, positions: Uint32Array, features: Uint32Array, start: number, end: number, nRows: number, ctx: number): Uint32Array {
  const n = rows.length;
  const span = end - start + 1;
  const nTokens = nRows * ctx;
  if (nTokens > 2 ** 28 || span > 2 ** 28) {
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => compareAt(rows, positions, features, a, b));
  }
  const byFeature = new Uint32Array(n);
  const featureCounts = new Uint32Array(span + 1);
  for (let i = 0; i < n; i++) featureCounts[features[i]! - start + 1]!++;
  for (let f = 1; f <= span; f++) featureCounts[f]! += featureCounts[f - 1]!;
  for (let i = 0; i < n; i++) byFeature[featureCounts[features[i]! - start]!++] = i;
  const tokenCounts = new Uint32Array(nTokens + 1);
  for (let i = 0; i < n; i++) tokenCounts[rows[i]! * ctx + positions[i]! + 1]!++;
  for (let t = 1; t <= nTokens; t++) tokenCounts[t]! += tokenCounts[t - 1]!;
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) {
    const i = byFeature[j]!;
    order[tokenCounts[rows[i]! * ctx + positions[i]!]!++] = i;
  }
  return order;
}

// ---------------------------------------------------------------------------------------------------
// One split: decode

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

function rangeFromPath(path: string): DelphiSplitRange {
  const name = baseName(path);
  const range = parseSplitFileName(name);
  if (!range) throw new AppError('delphi/bad-split', `"${path}" is not named <start>_<end>.safetensors, so its feature range is unknown. delphi names split files like 0_6552.safetensors.`);
  if (range.end < range.start) throw new AppError('delphi/bad-split', `"${path}" names the empty range ${range.start}..${range.end}.`);
  return range;
}

async function openSplit(source: Uint8Array | Blob, name: string): Promise<SafetensorsReader> {
  try {
    return source instanceof Uint8Array ? SafetensorsReader.fromBytes(source) : await SafetensorsReader.fromBlob(source);
  } catch (error) {
    if (error instanceof AppError) throw new AppError('delphi/bad-split', `${name}: ${error.message}`);
    throw error;
  }
}

interface SplitShape {
  locations: TensorEntry;
  activations: TensorEntry;
  tokens: TensorEntry | null;
  /** From the token matrix, or the expected shape when the file has none (undefined if neither). */
  nRows: number | undefined;
  ctx: number | undefined;
}

/** Checks the three tensors' presence, dtypes and shapes from the header alone. */
function splitShape(reader: SafetensorsReader, name: string, expected: { nRows?: number; ctx?: number }): SplitShape {
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
function intTensorToUint32(entry: TensorEntry, bytes: Uint8Array, name: string): Uint32Array {
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

function tokensFromTensor(entry: TensorEntry, bytes: Uint8Array, name: string): Int32Array {
  const ids = intTensorToUint32(entry, bytes, name);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]! >= 2 ** 31) throw new AppError('delphi/out-of-range', `${name}: token ${i} has the id ${ids[i]}, beyond any vocabulary.`);
  }
  return new Int32Array(ids.buffer, ids.byteOffset, ids.length);
}

// ---------------------------------------------------------------------------------------------------
// A dropped folder (or an unpacked zip)

export interface DelphiInputFile {
  /** Path relative to the dropped folder, '/' or '\' between folders (a File's webkitRelativePath). */
  path: string;
  blob: Blob;
}

/** One split file of a hook, checked from its header; decode it with `decodeDelphiSplit(blob, path, { tokens: false, nRows, ctx })`. */
export interface DelphiSplitFile extends DelphiSplitRange {
  path: string;
  blob: Blob;
  /** Non-zeros in the file. */
  count: number;
  locationsDtype: Dtype;
  hasTokens: boolean;
}

/** One hook point's cache, ready to be read split by split. Plain data: it can cross a worker boundary. */
export interface DelphiHookCache {
  /** The folder's name (delphi's module path, e.g. `layers.6` or `blocks.6.hook_resid_post`); '' when the files were not in a folder. */
  hook: string;
  /** The folder's path in the drop. */
  dir: string;
  config: DelphiCacheConfig;
  /** Features: the end of the last split plus one. */
  width: number;
  nRows: number;
  ctx: number;
  /** [nRows * ctx], row-major; the same array object for hooks whose matrices are equal. */
  tokens: Int32Array;
  /** A 64-bit hash (16 hex digits) of the token ids, to compare token matrices without comparing arrays. */
  tokensHash: string;
  /** Sorted by start; they tile [0, width). */
  splits: DelphiSplitFile[];
  /** Non-zeros over all splits. */
  nonZeros: number;
  /** Things that are odd but harmless (missing text fields, a file count that differs from n_splits). */
  warnings: string[];
}

export interface ReadDelphiOptions {
  signal?: AbortSignal;
}

const baseName = (path: string) => basename(normalizePath(path));
const dirName = (path: string) => dirname(normalizePath(path));

/**
 * Finds delphi caches in a dropped folder: every folder that holds `<start>_<end>.safetensors` files
 * is a hook and must hold a config.json (macOS `._*` and `__MACOSX` files are skipped). Reads only headers and the token matrices: checks that the
 * splits tile [0, width) without gaps or overlaps, that every split has the same token matrix (one
 * copy is kept and the others are compared with it chunk by chunk), and that the matrix matches the
 * config's context length. Other files are ignored.
 */
export async function readDelphiFolder(files: readonly DelphiInputFile[], options: ReadDelphiOptions = {}): Promise<DelphiHookCache[]> {
  const byDir = new Map<string, DelphiInputFile[]>();
  for (const file of files) {
    if (isSystemFile(file.path)) continue;
    const dir = dirName(file.path);
    const list = byDir.get(dir) ?? [];
    list.push(file);
    byDir.set(dir, list);
  }
  const hookDirs = [...byDir.entries()].filter(([, list]) => list.some((file) => parseSplitFileName(baseName(file.path))));
  if (hookDirs.length === 0) {
    const configs = [...byDir.entries()].filter(([, list]) => list.some((file) => baseName(file.path) === 'config.json'));
    for (const [dir, list] of configs) {
      const config = list.find((file) => baseName(file.path) === 'config.json')!;
      const text = await config.blob.text();
      if (/"(cache_ctx_len|ctx_len)"/.test(text) && /"n_splits"/.test(text)) {
        throw new AppError('delphi/bad-split', `${dir || 'The folder'} has a delphi config.json but no <start>_<end>.safetensors split files next to it.`);
      }
    }
    throw new AppError(
      'delphi/missing-config',
      `No delphi cache found among ${files.length} files. A delphi cache has, per hook point, a folder with config.json and files named <start>_<end>.safetensors (e.g. latents/layers.6/0_6552.safetensors). Drop the cache folder (or its parent).`,
    );
  }
  const hooks: DelphiHookCache[] = [];
  const tokenMatrices = new Map<string, Int32Array>();
  for (const [dir, list] of hookDirs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hooks.push(await readHookDir(dir, list, tokenMatrices, options.signal));
  }
  return hooks;
}

/** Opens a zip (made by `exportDelphiZip` or any tool) and reads the delphi caches in it. */
export async function readDelphiZip(archive: Blob, options: ReadDelphiOptions = {}): Promise<DelphiHookCache[]> {
  return readDelphiFolder(await readZip(archive, options.signal ? { signal: options.signal } : {}), options);
}

async function readHookDir(dir: string, list: DelphiInputFile[], tokenMatrices: Map<string, Int32Array>, signal: AbortSignal | undefined): Promise<DelphiHookCache> {
  const where = dir || 'the dropped files';
  const configFile = list.find((file) => baseName(file.path) === 'config.json');
  if (!configFile) {
    throw new AppError('delphi/missing-config', `${where} has split files but no config.json. delphi writes config.json next to the splits (it names the model, whose tokenizer the cache needs); copy it in and drop the folder again.`);
  }
  const { config, warnings } = parseDelphiConfig(await configFile.blob.text(), normalizePath(configFile.path));
  const splits: DelphiSplitFile[] = [];
  const headers: SplitShape[] = [];
  for (const file of list) {
    const name = baseName(file.path);
    if (!name.endsWith('.safetensors')) continue;
    throwIfAborted(signal, 'Reading the delphi cache');
    const path = normalizePath(file.path);
    const range = rangeFromPath(path);
    const shape = splitShape(await openSplit(file.blob, path), path, {});
    headers.push(shape);
    splits.push({ ...range, path, blob: file.blob, count: shape.locations.shape[0]!, locationsDtype: shape.locations.dtype, hasTokens: shape.tokens !== null });
  }
  const order = splits.map((_, i) => i).sort((a, b) => splits[a]!.start - splits[b]!.start);
  const sortedSplits = order.map((i) => splits[i]!);
  const sortedHeaders = order.map((i) => headers[i]!);
  checkTiling(where, sortedSplits);
  const width = sortedSplits[sortedSplits.length - 1]!.end + 1;
  if (sortedSplits.length !== config.n_splits) warnings.push(`config.json says n_splits ${config.n_splits}, but ${where} has ${sortedSplits.length} split files (they do cover all ${width} features).`);

  const withTokens = sortedHeaders.findIndex((shape) => shape.tokens !== null);
  if (withTokens < 0) {
    throw new AppError('delphi/missing-tokens', `No split in ${where} holds the token matrix (delphi ran with save_tokens=False). Re-run delphi's caching with tokens saved (the default), then import again.`);
  }
  const reference = sortedSplits[withTokens]!;
  const referenceShape = sortedHeaders[withTokens]!;
  const [nRows, ctx] = referenceShape.tokens!.shape as [number, number];
  if (ctx !== config.cache_ctx_len) {
    throw new AppError('delphi/mismatch', `${where}: the token matrix has rows of ${ctx} tokens but config.json says cache_ctx_len ${config.cache_ctx_len}. The config does not belong to these splits.`);
  }
  let tokens = tokensFromTensor(referenceShape.tokens!, await readRange(reference.blob, referenceShape.tokens!), reference.path);
  const tokensHash = hashTokens(tokens);
  const shared = tokenMatrices.get(tokensHash);
  if (shared && equalArrays(shared, tokens)) tokens = shared;
  else tokenMatrices.set(tokensHash, tokens);

  for (let s = 0; s < sortedSplits.length; s++) {
    const split = sortedSplits[s]!;
    const shape = sortedHeaders[s]!;
    if (!shape.tokens || s === withTokens) continue;
    throwIfAborted(signal, 'Reading the delphi cache');
    const [rows, columns] = shape.tokens.shape as [number, number];
    if (rows !== nRows || columns !== ctx) {
      throw new AppError('delphi/mismatch', `${split.path} has a ${rows} x ${columns} token matrix but ${reference.path} has ${nRows} x ${ctx}. All splits of a hook must come from the same delphi run.`);
    }
    await compareTokens(split, shape.tokens, tokens, reference.path);
  }
  const nonZeros = sortedSplits.reduce((sum, split) => sum + split.count, 0);
  const hook = dir.split('/').pop() ?? '';
  if (!hook) warnings.push('The split files were not in a folder, so the hook point is unknown; delphi names the folder after it.');
  return { hook, dir, config, width, nRows, ctx, tokens, tokensHash, splits: sortedSplits, nonZeros, warnings };
}

function checkTiling(where: string, splits: readonly DelphiSplitFile[]): void {
  let next = 0;
  for (const split of splits) {
    if (split.start > next) {
      throw new AppError('delphi/ranges', `${where}: no split covers features ${next}..${split.start - 1} (the next file is ${baseName(split.path)}). A split file is missing; copy all of them.`);
    }
    if (split.start < next) {
      throw new AppError('delphi/ranges', `${where}: ${baseName(split.path)} overlaps the features of another split (already covered up to ${next - 1}). Splits from two different runs may be mixed.`);
    }
    next = split.end + 1;
  }
}

/** The bytes of one tensor of a split, read through Blob.slice. */
async function readRange(blob: Blob, entry: TensorEntry): Promise<Uint8Array> {
  return new Uint8Array(await blob.slice(entry.begin, entry.end).arrayBuffer());
}

/** Elements compared per read when checking that two splits hold the same tokens. */
const COMPARE_ELEMENTS = 1 << 20;

async function compareTokens(split: DelphiSplitFile, entry: TensorEntry, reference: Int32Array, referencePath: string): Promise<void> {
  const size = DTYPE_BYTES[entry.dtype];
  for (let first = 0; first < reference.length; first += COMPARE_ELEMENTS) {
    const count = Math.min(COMPARE_ELEMENTS, reference.length - first);
    const chunkEntry: TensorEntry = { ...entry, shape: [count], begin: entry.begin + first * size, end: entry.begin + (first + count) * size };
    const ids = intTensorToUint32(chunkEntry, await readRange(split.blob, chunkEntry), split.path);
    for (let i = 0; i < count; i++) {
      if (ids[i] !== reference[first + i]) {
        const ctx = entry.shape[1]!;
        const at = first + i;
        throw new AppError(
          'delphi/mismatch',
          `${split.path} and ${referencePath} hold different tokens (first difference at row ${Math.floor(at / ctx)}, position ${at % ctx}: ${ids[i]} vs ${reference[at]}). All splits of a hook must come from the same delphi run.`,
        );
      }
    }
  }
}

function equalArrays(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Two 32-bit murmur3-style lanes with different seeds, finalised with the length: 16 hex digits. */
export function hashTokens(tokens: Int32Array | Uint32Array): string {
  let h1 = 0x9747b28c;
  let h2 = 0x85ebca6b;
  for (let i = 0; i < tokens.length; i++) {
    const k = Math.imul(tokens[i]! | 0, 0xcc9e2d51);
    const k1 = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h1 ^= k1;
    h1 = Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64;
    h2 ^= Math.imul(k1, 0x2f8b3c45) ^ i;
    h2 = Math.imul((h2 << 17) | (h2 >>> 15), 9) + 0x38b34ae5;
  }
  const finish = (h: number) => {
    h ^= tokens.length;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0).toString(16).padStart(8, '0');
  };
  return finish(h1) + finish(h2);
}


// ---------------------------------------------------------------------------------------------------
// Export

/** What to export for one hook point. */
export interface DelphiHookExport {
  /** Folder name, delphi's module path (e.g. `blocks.6.hook_resid_post`). */
  hook: string;
  /** config.json; `n_splits` decides the split files and `cache_ctx_len` must equal `ctx`. */
  config: DelphiCacheConfig;
  /** SAE width (features). */
  width: number;
  /** [nRows * ctx] token ids, row-major. */
  tokens: Int32Array | Uint32Array;
  nRows: number;
  ctx: number;
  /**
   * The non-zeros whose feature lies in `range` (absolute feature ids, any order). Called once per
   * split, in order, so only one split's data need be in memory at a time.
   */
  nonZeros(range: DelphiSplitRange, index: number): DelphiNonZerosInput | Promise<DelphiNonZerosInput>;
}

export interface DelphiExportProgress {
  hook: string;
  /** Splits of this hook written so far, and in all. */
  split: number;
  splits: number;
  /** Bytes of the archive so far. */
  bytes: number;
}

export interface DelphiExportOptions {
  signal?: AbortSignal;
  onProgress?: (event: DelphiExportProgress) => void;
  /** Modification time in the zip (default now). */
  date?: Date;
}

/** One exported file: `<hook>/config.json` or `<hook>/<start>_<end>.safetensors`. */
export interface DelphiOutputFile {
  path: string;
  bytes: Uint8Array<ArrayBuffer>;
}

/**
 * Yields a hook's files one at a time, config.json first, so that they can be written to a zip, to
 * a folder (File System Access API) or anywhere else without holding more than one split.
 */
export async function* delphiFiles(hook: DelphiHookExport, signal?: AbortSignal): AsyncGenerator<DelphiOutputFile> {
  if (!hook.hook || /[/\\]/.test(hook.hook) || hook.hook === '.' || hook.hook === '..') {
    throw new AppError('delphi/bad-input', `"${hook.hook}" cannot be a folder name; use the hook point's name (e.g. blocks.6.hook_resid_post).`);
  }
  checkShape(hook.nRows, hook.ctx, hook.tokens.length);
  if (hook.config.cache_ctx_len !== hook.ctx) {
    throw new AppError('delphi/bad-input', `config.cache_ctx_len is ${hook.config.cache_ctx_len} but the rows have ${hook.ctx} tokens.`);
  }
  const ranges = splitRanges(hook.width, hook.config.n_splits);
  yield { path: `${hook.hook}/config.json`, bytes: encodeDelphiConfig(hook.config) };
  const tokens = tokensTensor(hook.tokens);
  for (let index = 0; index < ranges.length; index++) {
    if (signal?.aborted) throw new AppError('cancelled', 'The delphi export was cancelled.');
    const range = ranges[index]!;
    const data = await hook.nonZeros(range, index);
    yield { path: `${hook.hook}/${splitFileName(range)}`, bytes: encodeSplitWith({ ...data, ...range, nRows: hook.nRows, ctx: hook.ctx }, tokens) };
  }
}

/**
 * A zip with delphi's layout: `<hook>/config.json` and `<hook>/<start>_<end>.safetensors` per hook.
 * Unzipped into a folder, it is what delphi's `LatentDataset` reads (pass the folder as `raw_dir`).
 */
export async function exportDelphiZip(hooks: DelphiHookExport | readonly DelphiHookExport[], options: DelphiExportOptions = {}): Promise<Blob> {
  const list = Array.isArray(hooks) ? hooks : [hooks as DelphiHookExport];
  const names = new Set(list.map((hook) => hook.hook));
  if (names.size !== list.length) throw new AppError('delphi/bad-input', 'Two exported hooks have the same name; each needs its own folder.');
  const zip = new ZipWriter(options.date ? { date: options.date } : {});
  for (const hook of list) {
    const splits = hook.config.n_splits;
    let written = 0;
    for await (const file of delphiFiles(hook, options.signal)) {
      await zip.add(file.path, file.bytes, options.signal ? { signal: options.signal } : {});
      if (file.path.endsWith('.safetensors')) written++;
      options.onProgress?.({ hook: hook.hook, split: written, splits, bytes: zip.bytes });
    }
  }
  return zip.finish();
}
