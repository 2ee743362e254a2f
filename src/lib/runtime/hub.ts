/**
 * Downloads one file of a hub repo with progress, through the browser's Cache API so a reload does
 * not download a 500 MB model again. It shares transformers.js's cache (same name, same URL keys),
 * so a file either of them fetched is not fetched twice.
 */
import { AppError } from '../errors.ts';

export const HUB_CACHE = 'transformers-cache';

export interface HubFile {
  repo: string;
  path: string;
  hubUrl: string;
  revision: string;
}

export const hubFileUrl = (file: HubFile): string =>
  `${file.hubUrl.replace(/\/?$/, '/')}${file.repo}/resolve/${encodeURIComponent(file.revision)}/${file.path}`;

export async function downloadHubFile(file: HubFile, onProgress?: (loaded: number, total: number) => void): Promise<Uint8Array> {
  const url = hubFileUrl(file);
  const cache = typeof caches !== 'undefined' ? await caches.open(HUB_CACHE).catch(() => undefined) : undefined;
  const cached = await cache?.match(url);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    onProgress?.(bytes.byteLength, bytes.byteLength);
    return bytes;
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new AppError('model/load-failed', `Could not reach ${url} (${(error as Error).message}). Check the hub address and your connection.`);
  }
  if (!response.ok) {
    const hint = response.status === 401 || response.status === 403 ? 'The repo is private or gated.' : response.status === 404 ? `The repo "${file.repo}" has no file ${file.path}.` : '';
    throw new AppError('model/load-failed', `Downloading ${url} failed with HTTP ${response.status}. ${hint}`.trim());
  }
  const total = Number(response.headers.get('content-length') ?? 0);
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress?.(loaded, Math.max(total, loaded));
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  onProgress?.(loaded, loaded);
  // A full disk must not fail the download: the cache is only an optimisation.
  await cache?.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(loaded) } })).catch(() => undefined);
  return bytes;
}
