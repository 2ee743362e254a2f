/**
 * delphi's `<hook>/config.json`: built with delphi's key order and defaults, written byte for byte as
 * Python writes it, and read leniently (older delphi versions used other key names).
 */
import { AppError } from '../../errors.ts';

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
