/**
 * Loading a GPT-2 export from a hub repo: its file list, the ONNX file the engine can cut (see
 * hub/model-files.ts), config.json, then the graph and the weights stored beside it, each downloaded
 * once and kept by the browser (a second load reads them back, offline too).
 */
import { chooseModelFile, downloadHubFile, listModelFiles, type ModelFileChoice } from '../hub/index.ts';
import type { RepoRef } from '../types.ts';
import { basename, formatBytes, monotonic, throwIfAborted, type ProgressCallback } from '../util/index.ts';
import { AppError } from '../errors.ts';
import { parseGpt2Config, type Gpt2Config } from './gpt2-config.ts';

function parseJson(bytes: Uint8Array, repo: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new AppError('model/bad-config', `The config.json of "${repo}" is not valid JSON (${(error as Error).message}).`);
  }
}

export interface LoadedGpt2 {
  config: Gpt2Config;
  choice: ModelFileChoice;
  /** The graph's bytes. */
  onnx: Uint8Array;
  /** Weights stored beside the graph, by the name the graph refers to them with (relative to its folder). */
  externalData: { path: string; data: Uint8Array }[];
}

export interface LoadGpt2Options {
  /** Whether the GPU can run float16 graphs (adapter feature `shader-f16`). */
  shaderF16: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  fetch?: typeof fetch;
  cache?: Cache | null;
}

/** What would be downloaded, without downloading it: the chosen file and its size. */
export async function inspectGpt2(model: Required<RepoRef>, options: Omit<LoadGpt2Options, 'onProgress'>): Promise<ModelFileChoice> {
  const listing = await listModelFiles(model, options);
  return chooseModelFile(listing, model.repo, options);
}

export async function loadGpt2(model: Required<RepoRef>, options: LoadGpt2Options): Promise<LoadedGpt2> {
  const report = monotonic(options.onProgress);
  const choice = await inspectGpt2(model, options);
  const shared = { ...(options.signal ? { signal: options.signal } : {}), ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.cache !== undefined ? { cache: options.cache } : {}) };
  const download = (path: string) =>
    downloadHubFile({ ...model, path }, {
      ...shared,
      onProgress: (loaded, total) => report({ stage: `download ${path}`, done: loaded, ...(total ? { total } : {}), text: `Downloading ${path}: ${formatBytes(loaded)}${total ? ` of ${formatBytes(total)}` : ''}` }),
    });
  const config = parseGpt2Config(parseJson(await download('config.json'), model.repo), model.repo);
  const onnx = await download(choice.graph.path);
  const externalData: LoadedGpt2['externalData'] = [];
  for (const file of choice.data) externalData.push({ path: basename(file.path), data: await download(file.path) });
  throwIfAborted(options.signal, 'Loading the model');
  return { config, choice, onnx, externalData };
}
