/**
 * Which ONNX file of a GPT-2 repo the engine can cut, chosen from how the repo is really laid out.
 *
 * A repo's files come from the hub's API (`GET <hub>/api/models/<repo>/revision/<rev>?blobs=true`,
 * `siblings: [{ rfilename, size }]`); where that call fails (a static stand-in has no API, a mirror may
 * refuse it), the candidate names are probed with HEAD requests in order; offline, the Cache API answers
 * for files downloaded before. The engine needs one single-graph export: `onnx/model.onnx` (current
 * Optimum layout), else `onnx/decoder_model.onnx` (older transformers.js layout), with the weights file
 * stored beside it when there is one (`<name>_data`). Merged graphs keep the blocks inside `If` branches
 * and cannot be cut; with-past-only graphs need a cache they cannot be fed; quantized graphs do not give
 * exact activations. float16 exports run only where the adapter has `shader-f16`.
 */
import { AppError } from '../errors.ts';
import { isAbortError, throwIfAborted } from '../util/index.ts';
import type { RepoRef } from '../types.ts';
import { hubHttpError, openFileCache } from './download.ts';
import { hubFileUrl, hubModelInfoUrl, isRepoId } from './urls.ts';

export interface RepoFile {
  /** Path in the repo, e.g. `onnx/model.onnx`. */
  path: string;
  /** Bytes, when the listing or the probe said. */
  size?: number;
}

export interface RepoListing {
  files: RepoFile[];
  /** How the list was made: the hub API, HEAD probes of the candidate names, or the browser's cache (offline). */
  via: 'api' | 'probe' | 'cache';
}

export type ModelDtype = 'fp32' | 'fp16';

/** The graphs the engine can cut, best first. */
export const MODEL_GRAPHS: readonly { path: string; dtype: ModelDtype }[] = [
  { path: 'onnx/model.onnx', dtype: 'fp32' },
  { path: 'onnx/decoder_model.onnx', dtype: 'fp32' },
  { path: 'onnx/model_fp16.onnx', dtype: 'fp16' },
  { path: 'onnx/decoder_model_fp16.onnx', dtype: 'fp16' },
];

/** What float16 costs, said where it is offered. */
export const FP16_FIDELITY =
  'float16 weights and arithmetic: activations differ from the float32 model by about 1e-3 relative (more on outlier dimensions), so a cache made with it is close to, not equal to, one made with float32 (and to delphi\'s)';

export interface ModelFileChoice {
  graph: RepoFile;
  /** Weights stored beside the graph (`<name>_data`, `<name>_data_1`, ...), loaded with it. */
  data: RepoFile[];
  dtype: ModelDtype;
  /** Bytes to download in all, when known. */
  bytes?: number;
  /** What the user should know about this choice (float16's fidelity). */
  note?: string;
}

export interface ListOptions {
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Where downloaded files are kept (the Cache API); consulted when the hub cannot be reached. */
  cache?: Cache | undefined | null;
}

/** Files stored beside `graph` that hold its weights: `model.onnx_data`, `model.onnx_data_1`, `model.onnx.data`. */
export function externalDataOf(graph: string, files: readonly RepoFile[]): RepoFile[] {
  return files.filter((f) => f.path === `${graph}.data` || f.path === `${graph}_data` || new RegExp(`^${graph.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_data_\\d+$`).test(f.path));
}

const onnxFiles = (files: readonly RepoFile[]) => files.filter((f) => /\.onnx$/i.test(f.path)).map((f) => f.path).sort();

/** The file to cut, or a clear refusal that lists what the repo has and says what is needed. */
export function chooseModelFile(listing: RepoListing, repo: string, options: { shaderF16: boolean }): ModelFileChoice {
  const byPath = new Map(listing.files.map((f) => [f.path, f]));
  const found = MODEL_GRAPHS.filter((g) => byPath.has(g.path));
  const fp32 = found.find((g) => g.dtype === 'fp32');
  const fp16 = found.find((g) => g.dtype === 'fp16');
  const pick = fp32 ?? (options.shaderF16 ? fp16 : undefined);
  if (pick) {
    const graph = byPath.get(pick.path)!;
    const data = externalDataOf(pick.path, listing.files);
    const sizes = [graph, ...data].map((f) => f.size);
    const bytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0) : undefined;
    return { graph, data, dtype: pick.dtype, ...(bytes !== undefined ? { bytes } : {}), ...(pick.dtype === 'fp16' ? { note: `Only a float16 export exists (${pick.path}): ${FP16_FIDELITY}.` } : {}) };
  }
  const has = onnxFiles(listing.files);
  const needed = 'a single-graph float32 export, onnx/model.onnx or onnx/decoder_model.onnx (merged graphs cannot be cut, with-past-only graphs need a cache they cannot be fed, quantized graphs do not give exact activations); export one with Optimum: optimum-cli export onnx --model <repo> --task text-generation out/';
  if (fp16) {
    throw new AppError('model/unsupported', `"${repo}" has only a float16 export (${fp16.path}), and this GPU adapter has no shader-f16, so it cannot run float16. Use a GPU (browser) with shader-f16, or a repo with ${needed}.`);
  }
  if (has.length === 0) throw new AppError('model/no-usable-file', `"${repo}" has no ONNX files${listing.via === 'probe' ? ' under the names the engine looks for' : ''}. The engine needs ${needed}.`);
  throw new AppError('model/no-usable-file', `"${repo}" has no ONNX file the engine can cut. It has: ${has.join(', ')}. The engine needs ${needed}.`);
}

type Fetch = typeof fetch;

async function request(doFetch: Fetch, url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<Response | Error> {
  throwIfAborted(signal, 'Looking up the model files');
  try {
    return await doFetch(url, { ...init, ...(signal ? { signal } : {}) });
  } catch (error) {
    if (isAbortError(error) || signal?.aborted) throw new AppError('cancelled', 'Looking up the model files was cancelled.');
    return error as Error;
  }
}

interface Sibling {
  rfilename?: unknown;
  size?: unknown;
  lfs?: { size?: unknown };
}

function siblingsOf(body: unknown): RepoFile[] | undefined {
  const siblings = (body as { siblings?: unknown } | null)?.siblings;
  if (!Array.isArray(siblings)) return undefined;
  return (siblings as Sibling[]).flatMap((s) => {
    if (typeof s?.rfilename !== 'string') return [];
    const size = typeof s.size === 'number' ? s.size : typeof s.lfs?.size === 'number' ? s.lfs.size : undefined;
    return [size === undefined ? { path: s.rfilename } : { path: s.rfilename, size }];
  });
}

const sizeOf = (response: Response): number | undefined => {
  // The hub answers a HEAD of a large file with a redirect; `x-linked-size` (or the target's length) is its size.
  const header = response.headers.get('x-linked-size') ?? response.headers.get('content-length');
  return header !== null && Number.isFinite(Number(header)) ? Number(header) : undefined;
};

/** Names probed when there is no listing: the graphs, their weights files, and config.json (to tell a missing repo). */
const PROBED = ['config.json', ...MODEL_GRAPHS.flatMap((g) => [g.path, `${g.path}_data`])];

/** The repo's files at a revision (see the module comment for how). Throws hub/gated, hub/not-found or hub/fetch-failed. */
export async function listModelFiles(model: Required<RepoRef>, options: ListOptions = {}): Promise<RepoListing> {
  if (!isRepoId(model.repo)) throw new AppError('model/bad-config', `"${model.repo}" is not a model repo id: write it as owner/name, e.g. "Xenova/gpt2".`);
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const what = `the model repo "${model.repo}" (revision ${model.revision})`;
  const apiUrl = `${hubModelInfoUrl(model)}?blobs=true`;
  const api = await request(doFetch, apiUrl, { headers: { Accept: 'application/json' } }, options.signal);
  if (!(api instanceof Error)) {
    // The hub answers 401 for a repo that does not exist as for a private or gated one.
    if (api.status === 401 || api.status === 403) throw missingOrGated(apiUrl, api.status, model.repo);
    if (api.ok) {
      const files = siblingsOf(await api.json().catch(() => undefined));
      if (files) return { files, via: 'api' };
    }
  }
  // No usable API answer: probe the names the engine would take.
  const files: RepoFile[] = [];
  let unreachable: Error | undefined;
  for (const path of PROBED) {
    const url = hubFileUrl({ ...model, path });
    const probe = await request(doFetch, url, { method: 'HEAD' }, options.signal);
    if (probe instanceof Error) {
      unreachable = probe;
      break;
    }
    if (probe.status === 401 || probe.status === 403) throw missingOrGated(url, probe.status, model.repo);
    if (probe.ok) files.push(sizeOf(probe) === undefined ? { path } : { path, size: sizeOf(probe)! });
    else if (path === 'config.json') throw hubHttpError(url, probe.status, what);
  }
  if (!unreachable) return { files, via: 'probe' };
  // Offline: what was downloaded before still loads.
  const cache = options.cache === undefined ? await openFileCache() : options.cache ?? undefined;
  const cached: RepoFile[] = [];
  for (const path of PROBED) {
    const hit = await cache?.match(hubFileUrl({ ...model, path })).catch(() => undefined);
    if (hit) cached.push({ path });
  }
  if (cached.some((f) => f.path === 'config.json') && cached.length > 1) return { files: cached, via: 'cache' };
  throw new AppError('hub/fetch-failed', `Could not reach ${apiUrl} (${unreachable.message}), and this browser has not kept ${what} from an earlier visit. Check the hub address and your connection.`);
}

function missingOrGated(url: string, status: number, repo: string): AppError {
  return new AppError('hub/gated', `${url} answered HTTP ${status}: the model repo "${repo}" does not exist, or it is private or gated (the hub answers the same for all three). Check the repo id; this app downloads public repos only.`);
}
