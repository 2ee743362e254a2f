/**
 * Hugging Face datasets, read as parquet over HTTP byte ranges. Which files make up a split:
 *
 * 1. `files` given: those paths of the repo at `revision` (default `main`), e.g. a repo uploaded with
 *    `push_to_hub`: `data/train-00000-of-00002.parquet`, `data/train-00001-of-00002.parquet`.
 * 2. Else the hub API `GET <hub>/api/datasets/<repo>/parquet/<config>/<split>`, which answers a JSON
 *    list of URLs of the split's parquet files (the hub converts every public dataset to parquet, in
 *    any original format). Those URLs redirect to the files; fetch follows.
 * 3. Where the API is missing or says 404 (the offline hub stand-in, mirrors): the parquet-conversion
 *    branch by its naming convention, `<config>/<split>/0000.parquet`, `0001.parquet`, ... at revision
 *    `refs/convert/parquet` (or the given revision), probed with HEAD until the first missing
 *    number; then the same under `<config>/partial-<split>/` (the name the conversion uses for a
 *    split it converted only in part, e.g. the first 5 GB of a large one).
 * Otherwise the error lists every URL tried and suggests giving `files`: the page's "Parquet files"
 * field and `npm run cache -- --files`, both a comma-separated list read by `parseParquetPaths`.
 */
import { AppError } from '../errors.ts';
import { hubBase, hubFileUrl, hubParquetApiUrl, isRepoId } from '../hub/index.ts';
import { isAbortError, throwIfAborted } from '../util/index.ts';
import { listParquetColumns, readParquet, type ParquetReadOptions } from './parquet.ts';
import type { ColumnListing } from './types.ts';

/** The branch where the hub publishes its parquet conversion of every dataset. */
export const PARQUET_CONVERSION_REVISION = 'refs/convert/parquet';

export interface HubDatasetRef {
  /** `owner/name`. */
  repo: string;
  /** The config (subset); default 'default'. */
  config?: string;
  /** Default 'train'. */
  split?: string;
  /** Default https://huggingface.co (the test stand-in is a local URL). */
  hubUrl?: string;
  /** With `files`: default 'main'. Without: the conversion-branch fallback uses it, default refs/convert/parquet. */
  revision?: string;
  /** Parquet paths inside the repo; skips the lookup. */
  files?: string[];
}

export interface HubParquetFile {
  url: string;
  /** Known when the lookup already asked (a HEAD probe): saves the reader a request. */
  byteLength?: number;
}

export interface ResolvedParquetFiles {
  files: HubParquetFile[];
  via: 'files' | 'api' | 'conversion-branch';
  /** Every URL asked, in order, for messages and logs. */
  tried: string[];
}

export type HubReadOptions = Omit<ParquetReadOptions, 'byteLength'>;

/** `<hub>/datasets/<repo>/resolve/<revision>/<path>`. */
export const hubDatasetFileUrl = (ref: Pick<HubDatasetRef, 'repo' | 'hubUrl'>, revision: string, path: string): string =>
  hubFileUrl({ kind: 'dataset', repo: ref.repo, revision, path, ...(ref.hubUrl ? { hubUrl: ref.hubUrl } : {}) });

type Outcome = { response: Response } | { error: Error };

async function tryFetch(doFetch: typeof fetch, url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<Outcome> {
  throwIfAborted(signal, 'Looking up the dataset files');
  try {
    return { response: await doFetch(url, { ...init, ...(signal ? { signal } : {}) }) };
  } catch (error) {
    if (isAbortError(error) || signal?.aborted) throw new AppError('cancelled', 'Looking up the dataset files was cancelled.');
    return { error: error as Error };
  }
}

function refused(url: string, status: number): AppError | undefined {
  if (status === 401 || status === 403) return new AppError('corpus/fetch-failed', `${url} answered HTTP ${status}: the dataset is private or gated. This app reads public datasets only; download the parquet files and upload them instead.`);
  return undefined;
}

export async function resolveHubParquetFiles(ref: HubDatasetRef, options: HubReadOptions = {}): Promise<ResolvedParquetFiles> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const config = ref.config ?? 'default';
  const split = ref.split ?? 'train';
  if (!isRepoId(ref.repo)) throw new AppError('corpus/bad-options', `"${ref.repo}" is not a dataset repo name: write it as owner/name, e.g. "NeelNanda/pile-10k".`);
  if (ref.files && ref.files.length > 0) {
    const revision = ref.revision ?? 'main';
    const files = ref.files.map((path) => ({ url: hubDatasetFileUrl(ref, revision, path) }));
    return { files, via: 'files', tried: [] };
  }
  const tried: string[] = [];
  const notes: string[] = [];

  const apiUrl = hubParquetApiUrl(ref);
  tried.push(apiUrl);
  const api = await tryFetch(doFetch, apiUrl, { headers: { Accept: 'application/json' } }, options.signal);
  if ('response' in api) {
    const denied = refused(apiUrl, api.response.status);
    if (denied) throw denied;
    if (api.response.ok) {
      const body: unknown = await api.response.json().catch(() => undefined);
      if (Array.isArray(body) && body.length > 0 && body.every((u) => typeof u === 'string')) {
        return { files: (body as string[]).map((url) => ({ url: new URL(url, hubBase(ref.hubUrl)).href })), via: 'api', tried };
      }
      notes.push(`the API answered something other than a list of URLs`);
    } else {
      notes.push(`the API answered HTTP ${api.response.status}`);
    }
  } else {
    notes.push(`the API was unreachable (${api.error.message})`);
  }

  const revision = ref.revision ?? PARQUET_CONVERSION_REVISION;
  for (const dir of [`${config}/${split}`, `${config}/partial-${split}`]) {
    const files: HubParquetFile[] = [];
    for (let index = 0; ; index++) {
      const url = hubDatasetFileUrl(ref, revision, `${dir}/${String(index).padStart(4, '0')}.parquet`);
      tried.push(url);
      const probe = await tryFetch(doFetch, url, { method: 'HEAD' }, options.signal);
      if ('error' in probe) {
        notes.push(`${url} was unreachable (${probe.error.message})`);
        break;
      }
      const denied = refused(url, probe.response.status);
      if (denied) throw denied;
      if (!probe.response.ok) break;
      const length = probe.response.headers.get('content-length');
      files.push(length !== null && Number.isFinite(Number(length)) ? { url, byteLength: Number(length) } : { url });
    }
    if (files.length > 0) return { files, via: 'conversion-branch', tried };
  }
  throw new AppError('corpus/no-parquet-files', `Found no parquet files for dataset "${ref.repo}" (config "${config}", split "${split}"): ${notes.join('; ')}; the conversion branch has none under ${config}/${split}/ either. Check the config and split names on the dataset's page, or list the split's parquet files yourself in the "Parquet files" field (--files with npm run cache): their paths in the repo, comma-separated, for example data/${split}-00000-of-00001.parquet. Tried: ${tried.join(', ')}`);
}

/** The paths of a "Parquet files" field or `--files` option: comma-separated, blanks around them and empty entries dropped. */
export const parseParquetPaths = (text: string): string[] =>
  text.split(',').map((path) => path.trim()).filter((path) => path !== '');

/** The documents of one column of a hub dataset split, file after file. */
export async function* readHubDataset(ref: HubDatasetRef & { column: string }, options: HubReadOptions = {}): AsyncGenerator<string> {
  const { files } = await resolveHubParquetFiles(ref, options);
  for (const file of files) {
    yield* readParquet(file.url, ref.column, { ...options, ...(file.byteLength !== undefined ? { byteLength: file.byteLength } : {}) });
  }
}

/** The columns of a hub dataset split, from the footer of its first parquet file (`rows` counts that file only). */
export async function listHubDatasetColumns(ref: HubDatasetRef, options: HubReadOptions = {}): Promise<ColumnListing & { files: ResolvedParquetFiles }> {
  const resolved = await resolveHubParquetFiles(ref, options);
  const first = resolved.files[0]!;
  const listing = await listParquetColumns(first.url, { ...options, ...(first.byteLength !== undefined ? { byteLength: first.byteLength } : {}) });
  return { ...listing, files: resolved };
}
