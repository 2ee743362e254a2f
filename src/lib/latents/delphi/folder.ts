/**
 * delphi caches found in a dropped folder or a zip and checked from headers and token matrices only
 * (splits tile the features, every split holds the same tokens), so that a broken cache fails before
 * any split is decoded.
 */
import { AppError } from '../../errors.ts';
import { DTYPE_BYTES, readZip, type Dtype, type TensorEntry } from '../../formats/index.ts';
import { dirname, isSystemFile, normalizePath, throwIfAborted } from '../../util/index.ts';
import { parseDelphiConfig, type DelphiCacheConfig } from './config.ts';
import { intTensorToUint32, openSplit, splitShape, tokensFromTensor, type SplitShape } from './decode.ts';
import { baseName, parseSplitFileName, rangeFromPath, type DelphiSplitRange } from './ranges.ts';

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
