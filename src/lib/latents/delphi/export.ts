/**
 * A cache exported in delphi's layout, one split at a time, as files or as one zip: a 10M-token
 * cache never has to be in memory at once.
 */
import { AppError } from '../../errors.ts';
import { ZipWriter } from '../../formats/index.ts';
import { encodeDelphiConfig, type DelphiCacheConfig } from './config.ts';
import { checkShape, encodeSplitWith, tokensTensor, type DelphiNonZerosInput } from './encode.ts';
import { splitFileName, splitRanges, type DelphiSplitRange } from './ranges.ts';

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
