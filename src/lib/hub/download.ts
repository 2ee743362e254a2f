/**
 * Downloads one file of a hub repo with progress, through the browser's Cache API so that a reload (or
 * a second visit, offline) does not download a 500 MB model again. The bytes are read once into one
 * buffer; the copy for the Cache API is a tee of the same stream, not a second buffer.
 */
import { AppError } from '../errors.ts';
import { isAbortError, throwIfAborted } from '../util/index.ts';
import { hubFileUrl, type HubFileRef } from './urls.ts';

/** The Cache API cache that holds downloaded hub files, keyed by URL. */
export const HUB_FILE_CACHE = 'autointerp-hub-files';

export interface DownloadOptions {
  onProgress?: (loaded: number, total: number | undefined) => void;
  signal?: AbortSignal;
  /** Where to keep files between visits; the default opens the Cache API where there is one (not in Node). */
  cache?: Cache | undefined | null;
  fetch?: typeof fetch;
}

/** The Cache API cache of hub files, where the platform has one. */
export async function openFileCache(): Promise<Cache | undefined> {
  return typeof caches !== 'undefined' ? caches.open(HUB_FILE_CACHE).catch(() => undefined) : undefined;
}

/** The message for a hub's refusal, by status. */
export function hubHttpError(url: string, status: number, what: string): AppError {
  if (status === 401 || status === 403) {
    return new AppError('hub/gated', `${url} answered HTTP ${status}: ${what} is private or gated. This app downloads public repos only.`);
  }
  if (status === 404) return new AppError('hub/not-found', `${url} answered HTTP 404: ${what} does not exist (check the repo id, revision and file name).`);
  return new AppError('hub/fetch-failed', `${url} answered HTTP ${status} for ${what}. Try again later.`);
}

export async function downloadHubFile(file: HubFileRef, options: DownloadOptions = {}): Promise<Uint8Array> {
  const url = hubFileUrl(file);
  const what = `${file.path} of "${file.repo}"`;
  const cache = options.cache === undefined ? await openFileCache() : options.cache ?? undefined;
  const cached = await cache?.match(url).catch(() => undefined);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    options.onProgress?.(bytes.byteLength, bytes.byteLength);
    return bytes;
  }
  throwIfAborted(options.signal, `Downloading ${file.path}`);
  let response: Response;
  try {
    response = await (options.fetch ?? globalThis.fetch)(url, options.signal ? { signal: options.signal } : {});
  } catch (error) {
    if (isAbortError(error) || options.signal?.aborted) throw new AppError('cancelled', `Downloading ${file.path} was cancelled.`);
    throw new AppError('hub/fetch-failed', `Could not reach ${url} (${(error as Error).message}). Check the hub address and your connection.`);
  }
  if (!response.ok) throw hubHttpError(url, response.status, what);
  const header = response.headers.get('content-length');
  const total = header !== null && Number.isFinite(Number(header)) ? Number(header) : undefined;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());

  let body = response.body;
  let stored: Promise<unknown> | undefined;
  if (cache) {
    const [toCache, toRead] = body.tee();
    body = toRead;
    // A full disk must not fail the download: the cache only saves the next one.
    stored = cache.put(url, new Response(toCache, { headers: { 'content-type': 'application/octet-stream' } })).catch(() => undefined);
  }
  const bytes = await readAll(body, total, (loaded) => options.onProgress?.(loaded, total), options.signal, file.path);
  await stored;
  return bytes;
}

/** Reads a stream into one buffer (sized by `expected` when known; grown if the stream is longer). */
async function readAll(body: ReadableStream<Uint8Array>, expected: number | undefined, onChunk: (loaded: number) => void, signal: AbortSignal | undefined, name: string): Promise<Uint8Array> {
  const reader = body.getReader();
  let buffer = new Uint8Array(expected ?? 1 << 20);
  let loaded = 0;
  try {
    for (;;) {
      if (signal?.aborted) {
        await reader.cancel().catch(() => undefined);
        throw new AppError('cancelled', `Downloading ${name} was cancelled.`);
      }
      const { done, value } = await reader.read();
      if (done) break;
      if (loaded + value.byteLength > buffer.byteLength) {
        const grown = new Uint8Array(Math.max(buffer.byteLength * 2, loaded + value.byteLength));
        grown.set(buffer.subarray(0, loaded));
        buffer = grown;
      }
      buffer.set(value, loaded);
      loaded += value.byteLength;
      onChunk(loaded);
    }
  } catch (error) {
    if (isAbortError(error)) throw new AppError('cancelled', `Downloading ${name} was cancelled.`);
    if (error instanceof AppError) throw error;
    throw new AppError('hub/fetch-failed', `The download of ${name} broke off after ${loaded} bytes (${(error as Error).message}). Try again.`);
  }
  return loaded === buffer.byteLength ? buffer : buffer.slice(0, loaded);
}

/** Bytes the Cache API holds for downloaded hub files, and a way to free them. */
export async function cachedHubFiles(): Promise<{ url: string; bytes: number }[]> {
  const cache = await openFileCache();
  if (!cache) return [];
  const out: { url: string; bytes: number }[] = [];
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    const length = Number(response?.headers.get('content-length') ?? NaN);
    out.push({ url: request.url, bytes: Number.isFinite(length) ? length : (await response?.blob())?.size ?? 0 });
  }
  return out;
}

export async function clearHubFiles(): Promise<void> {
  if (typeof caches !== 'undefined') await caches.delete(HUB_FILE_CACHE);
}
