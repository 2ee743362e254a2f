/**
 * From dropped files to SAE candidates (headers and configs only), and from a chosen candidate to
 * float32 weights in the canonical layout.
 */
import { AppError, errorCode, type ErrorCode } from '../errors.ts';
import type { SafetensorsReader, TensorEntry } from '../formats/index.ts';
import { configKindOf, metadataAsConfig, parseSaeConfig, type ConfigKind, type ParsedConfig } from './config.ts';
import { basename, dirname } from '../util/index.ts';
import { groupSaeFiles, noWeightsError, openSafetensors, readJsonConfig, type FileGroup } from './files.ts';
import { detectLayout, layoutById, type LayoutTensor, type SaeLayout, type TensorTransform } from './layouts.ts';
import { buildSaeSpec } from './spec.ts';
import { summarizeSae } from './settings.ts';
import type { CanonicalTensor, SaeInputFile, SaeSpec, SaeWeights } from './types.ts';

/** One SAE found among the dropped files. Holds the open file; only its header has been read. */
export interface SaeCandidate {
  /** The weights file's path; unique among candidates. */
  id: string;
  /** For a chooser: folder and a one-line summary. */
  label: string;
  weightsPath: string;
  /** Configs that were read for it, highest precedence first. */
  configPaths: string[];
  /** Row of SAE_LAYOUTS the tensors matched. */
  layoutId: string;
  spec: SaeSpec;
  reader: SafetensorsReader;
}

export interface SkippedSaeFile {
  path: string;
  code: ErrorCode | undefined;
  message: string;
}

export interface SaeDetection {
  candidates: SaeCandidate[];
  /** Weights files that could not be used, with why (shown when other files did work). */
  skipped: SkippedSaeFile[];
}

/** Runs `fn`, prefixing the message of an AppError it throws with the file's path. */
function withPath<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    throw new AppError(error.code, `${path}: ${error.message}`);
  }
}

/** A config file read: what it says, or why a config of a kind we know could not be read. */
type ConfigResult = { parsed?: ParsedConfig; path: string; kind?: ConfigKind; error?: unknown };

/** Throws when the file is no JSON object; keeps a parse error with the kind that raised it. */
async function readConfig(file: SaeInputFile): Promise<ConfigResult> {
  const cfg = await readJsonConfig(file);
  const kind = configKindOf(cfg);
  try {
    const parsed = kind?.parse(cfg, file.path);
    return { path: file.path, ...(kind ? { kind: kind.kind } : {}), ...(parsed ? { parsed } : {}) };
  } catch (error) {
    return { path: file.path, ...(kind ? { kind: kind.kind } : {}), error };
  }
}

async function detectGroup(group: FileGroup, configCache: Map<string, Promise<ConfigResult>>): Promise<SaeCandidate> {
  const cached = (file: SaeInputFile) => {
    let result = configCache.get(file.path);
    if (!result) configCache.set(file.path, (result = readConfig(file)));
    return result;
  };
  const reader = await openSafetensors(group.weights);
  const detected = withPath(group.weights.path, () => detectLayout(reader.header));

  const configs: ParsedConfig[] = [];
  const ignoredConfigs: string[] = [];
  const configPaths: string[] = [];
  if (group.config) {
    const result = await cached(group.config);
    if (result.error) throw result.error;
    if (result.parsed) {
      configs.push(result.parsed);
      configPaths.push(result.path);
    } else ignoredConfigs.push(result.path);
  }
  // Folders above may hold a sparsify run config (model name, shared k); other configs there belong to other SAEs.
  // A run config that is wrong is an error (its k would otherwise give way to the default); other files there are skipped.
  for (const ancestor of group.ancestorConfigs) {
    const result = await cached(ancestor).catch(() => ({ path: ancestor.path }) as ConfigResult);
    if (result.kind === 'sparsify-run' && result.error) throw result.error;
    if (result.parsed?.kind === 'sparsify-run') {
      configs.push(result.parsed);
      configPaths.push(result.path);
    }
  }
  const metadataSource = `${group.weights.path} (__metadata__)`;
  try {
    const fromMetadata = parseSaeConfig(metadataAsConfig(reader.header.metadata), metadataSource);
    if (fromMetadata) configs.push(fromMetadata);
  } catch (error) {
    if (!errorCode(error)) throw error;
    detected.warnings.push(`${metadataSource} was ignored: ${(error as Error).message}`);
  }

  const spec = buildSaeSpec({ detected, path: group.weights.path, bytes: group.weights.blob.size, configs, ignoredConfigs });
  const folder = dirname(group.weights.path);
  return {
    id: group.weights.path,
    label: `${folder === '' ? basename(group.weights.path) : folder} — ${summarizeSae(spec).title}`,
    weightsPath: group.weights.path,
    configPaths,
    layoutId: detected.layout.id,
    spec,
    reader,
  };
}

/**
 * Finds the SAEs among dropped files: every safetensors file (except SAELens's sparsity file) with the
 * config in its folder. Reads headers and configs, never the weights. Files that fail are listed in
 * `skipped`; when none succeeds, the first failure is thrown (with its code), or `sae/no-weights` when
 * there was no safetensors file at all.
 */
export async function detectSaes(files: readonly SaeInputFile[]): Promise<SaeDetection> {
  const { groups, pickles } = groupSaeFiles(files);
  if (groups.length === 0) throw noWeightsError(files, pickles);
  const configCache = new Map<string, Promise<ConfigResult>>();
  const candidates: SaeCandidate[] = [];
  const skipped: SkippedSaeFile[] = [];
  const errors: unknown[] = [];
  for (const group of groups) {
    try {
      candidates.push(await detectGroup(group, configCache));
    } catch (error) {
      if (!errorCode(error)) throw error;
      errors.push(error);
      skipped.push({ path: group.weights.path, code: errorCode(error), message: (error as Error).message });
    }
  }
  if (candidates.length === 0) {
    const first = errors[0] as AppError;
    if (errors.length === 1) throw first;
    const others = skipped.slice(1).map((s) => `${s.path}: ${s.code}`).join('; ');
    throw new AppError(first.code, `${first.message} (${errors.length - 1} more file${errors.length > 2 ? 's' : ''} failed too: ${others})`);
  }
  return { candidates, skipped };
}

/** Where a canonical weight lives in the file, for a GPU path that uploads raw bytes and transposes itself. */
export interface SaeTensorRef {
  key: string;
  entry: TensorEntry;
  /** What turns the file tensor into the canonical one. */
  transform: TensorTransform;
}

/** The file tensors behind each canonical weight (read the bytes with `candidate.reader.raw(ref.key)`). */
export function saeTensorRefs(candidate: Pick<SaeCandidate, 'layoutId' | 'reader'>): Partial<Record<CanonicalTensor, SaeTensorRef>> {
  const layout: SaeLayout = layoutById(candidate.layoutId);
  const refs: Partial<Record<CanonicalTensor, SaeTensorRef>> = {};
  for (const tensor of layout.tensors) {
    if (!tensor.as || !candidate.reader.has(tensor.key)) continue;
    for (const name of tensor.as) refs[name] = { key: tensor.key, entry: candidate.reader.entry(tensor.key), transform: tensor.transform ?? 'none' };
  }
  return refs;
}

/** [rows, cols] row-major -> [cols, rows] row-major. */
export function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  const block = 64;
  for (let r0 = 0; r0 < rows; r0 += block) {
    for (let c0 = 0; c0 < cols; c0 += block) {
      const rEnd = Math.min(r0 + block, rows);
      const cEnd = Math.min(c0 + block, cols);
      for (let r = r0; r < rEnd; r++) {
        for (let c = c0; c < cEnd; c++) out[c * rows + r] = src[r * cols + c]!;
      }
    }
  }
  return out;
}

const TRANSFORMS: Record<TensorTransform, (data: Float32Array, entry: TensorEntry) => Float32Array> = {
  none: (data) => data,
  transpose: (data, entry) => transpose(data, entry.shape[0]!, entry.shape[1]!),
  exp: (data) => data.map(Math.exp),
};

/** Where value `index` of a tensor is, in the file's own layout, with the feature it belongs to when one axis is the width. */
function positionText(index: number, shape: readonly number[], dims: LayoutTensor['shape'] | undefined): string {
  const at: number[] = [];
  let rest = index;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    at[axis] = rest % shape[axis]!;
    rest = Math.floor(rest / shape[axis]!);
  }
  const place = at.length === 1 ? `index ${at[0]}` : at.length === 2 ? `row ${at[0]}, column ${at[1]}` : `position [${at.join(', ')}]`;
  const featureAxis = dims?.indexOf('n') ?? -1;
  return featureAxis >= 0 && dims!.length === at.length ? `${place} (feature ${at[featureAxis]})` : place;
}

/**
 * Refuses a tensor holding NaN or ±Inf (a damaged file, or one saved after training diverged): one NaN in
 * W_enc silences every feature, an Inf in b_enc fires one on every token. One pass, no copy; counting the
 * kinds takes a second pass over the rest only when a bad value is found. `what` names a derived tensor.
 */
function checkFinite(data: Float32Array, key: string, shape: readonly number[], dims: LayoutTensor['shape'] | undefined, what?: string): void {
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // v - v is 0 for every finite v and NaN for NaN and ±Inf.
    if (v - v !== 0) {
      first = i;
      break;
    }
  }
  if (first < 0) return;
  let nan = 0;
  let plus = 0;
  let minus = 0;
  for (let i = first; i < data.length; i++) {
    const v = data[i]!;
    if (v !== v) nan++;
    else if (v === Infinity) plus++;
    else if (v === -Infinity) minus++;
  }
  const count = nan + plus + minus;
  const kinds = [nan && `${nan} NaN`, plus && `${plus} +Inf`, minus && `${minus} -Inf`].filter(Boolean).join(', ');
  const values = what ? `value${count === 1 ? '' : 's'} whose ${what} is not finite` : `non-finite value${count === 1 ? '' : 's'}`;
  throw new AppError(
    'sae/non-finite',
    `Tensor ${key} [${shape.join(', ')}] has ${count} ${values} (${kinds}) of ${data.length}; the first is at ${positionText(first, shape, dims)}. ` +
      'The file is damaged, or it was saved after training diverged; such weights cannot encode anything meaningful. Download the file again, or use a checkpoint saved before the loss became NaN.',
  );
}

/** Canonical weights each architecture needs. */
const REQUIRED_BY_ARCHITECTURE: Record<SaeSpec['architecture'], readonly CanonicalTensor[]> = {
  relu: ['wEnc', 'bEnc', 'wDec', 'bDec'],
  topk: ['wEnc', 'bEnc', 'wDec', 'bDec'],
  jumprelu: ['wEnc', 'bEnc', 'wDec', 'bDec', 'threshold'],
  gated: ['wEnc', 'bEnc', 'wDec', 'bDec', 'bGate', 'rMag', 'bMag'],
};

export interface LoadWeightsOptions {
  signal?: AbortSignal;
  /** Bytes of the file read so far, and the total to read. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Reads the weights as float32 in the canonical layout (W_enc [dIn, width], W_dec [width, dIn]),
 * converting F16/BF16/F64 and transposing sparsify and OpenAI matrices.
 */
export async function loadSaeWeights(
  candidate: Pick<SaeCandidate, 'layoutId' | 'reader'> & Partial<Pick<SaeCandidate, 'weightsPath'>>,
  spec: SaeSpec,
  options: LoadWeightsOptions = {},
): Promise<SaeWeights> {
  const refs = saeTensorRefs(candidate);
  const layout = layoutById(candidate.layoutId);
  const dimsOf = (key: string) => layout.tensors.find((tensor) => tensor.key === key)?.shape;
  const named = <T>(fn: () => T): T => (candidate.weightsPath === undefined ? fn() : withPath(candidate.weightsPath, fn));
  const missing = REQUIRED_BY_ARCHITECTURE[spec.architecture].filter((name) => !refs[name]);
  if (missing.length > 0) {
    throw new AppError(
      'sae/config-mismatch',
      `A ${spec.architecture} SAE needs ${missing.join(', ')}, which this ${candidate.layoutId} file does not have. Set the architecture back to what the file supports.`,
    );
  }
  const wEnc = refs.wEnc!.entry;
  const [dIn, width] = refs.wEnc!.transform === 'transpose' ? [wEnc.shape[1], wEnc.shape[0]] : [wEnc.shape[0], wEnc.shape[1]];
  if (dIn !== spec.dIn || width !== spec.width) {
    throw new AppError('sae/config-mismatch', `The spec says d_in ${spec.dIn} and width ${spec.width}, but the file has ${dIn} and ${width}. Detect the SAE again.`);
  }
  const keyList = Object.values(refs).map((ref) => ref.key);
  const keys = new Set(keyList);
  // Only tensors used twice are kept after decoding, so a big matrix is never held twice while transposed.
  const sharedKeys = new Set(keyList.filter((key, i) => keyList.indexOf(key) !== i));
  const total = [...keys].reduce((sum, key) => sum + (candidate.reader.entry(key).end - candidate.reader.entry(key).begin), 0);
  let done = 0;
  options.onProgress?.(0, total);
  const decoded = new Map<string, Float32Array>();
  const out: Partial<SaeWeights> = {};
  for (const [name, ref] of Object.entries(refs) as [CanonicalTensor, SaeTensorRef][]) {
    if (options.signal?.aborted) throw new AppError('cancelled', 'Loading the SAE weights was cancelled.');
    let data = decoded.get(ref.key);
    if (data) {
      data = data.slice(); // gated's b_gate is both bEnc and bGate: give each its own array
    } else {
      const fresh = await candidate.reader.float32(ref.key);
      named(() => checkFinite(fresh, ref.key, ref.entry.shape, dimsOf(ref.key)));
      data = fresh;
      if (sharedKeys.has(ref.key)) decoded.set(ref.key, data);
      done += ref.entry.end - ref.entry.begin;
      options.onProgress?.(done, total);
    }
    const canonical = TRANSFORMS[ref.transform](data, ref.entry);
    // exp(log_threshold) overflows float32 above about 88.7.
    if (ref.transform === 'exp') named(() => checkFinite(canonical, ref.key, ref.entry.shape, dimsOf(ref.key), `exp(${ref.key})`));
    out[name] = canonical;
  }
  return out as SaeWeights;
}
