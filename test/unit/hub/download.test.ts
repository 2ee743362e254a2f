/**
 * downloadHubFile over real HTTP: the hub stand-in (scripts/servers/static-server.ts) serves
 * test/fixtures/hub with the hub's URL layout, and a tiny node:http server answers the refusals the
 * stand-in never gives (401, 403, 500, a body cut short).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startStaticServer, type StaticServer } from '../../../scripts/servers/static-server.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { downloadHubFile, hubFileUrl, type HubFileRef } from '../../../src/lib/hub/index.ts';
import { failure } from '../../support/async.ts';
import { FIXTURES, TINY_GPT2 } from '../../support/sae-fixtures.ts';

const REPO = 'autointerp-test/tiny-gpt2';
const CONFIG = readFileSync(join(TINY_GPT2, 'config.json'));
const ONNX = readFileSync(join(TINY_GPT2, 'onnx/model.onnx'));

let hub: StaticServer;
let refusals: Server;
let refusalsUrl: string;
let closedUrl: string;

/** 1.5 MiB and a bit: more than the 1 MiB buffer a download of unknown size starts with. */
const UNSIZED = Uint8Array.from({ length: 1.5 * 2 ** 20 + 3 }, (_, i) => (i * 31) % 251);

/**
 * Answers /status/<code>/resolve/<rev>/<file> with that status; /status/cut/... promises 1000 bytes and
 * sends 10; /status/chunked/... sends UNSIZED with no Content-Length.
 */
function startRefusals(): Promise<Server> {
  const server = createServer((request, response) => {
    const status = /^\/status\/([^/]+)\//.exec(request.url ?? '')?.[1];
    if (status === 'chunked') {
      response.writeHead(200);
      response.end(UNSIZED);
      return;
    }
    if (status === 'cut') {
      response.writeHead(200, { 'Content-Length': 1000 });
      response.write('0123456789', () => response.destroy());
      return;
    }
    response.writeHead(Number(status) || 400).end('no');
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

beforeAll(async () => {
  hub = await startStaticServer([{ prefix: '/', root: join(FIXTURES, 'hub'), hubLayout: true }]);
  refusals = await startRefusals();
  refusalsUrl = urlOf(refusals);
  // A port that was just listening and is now closed: connections to it are refused.
  const closed = await startRefusals();
  closedUrl = urlOf(closed);
  await new Promise((done) => closed.close(done));
});

afterAll(async () => {
  await hub.close();
  refusals.closeAllConnections();
  await new Promise((done) => refusals.close(done));
});

const file = (path: string, change: Partial<HubFileRef> = {}): HubFileRef => ({ repo: REPO, path, hubUrl: hub.url, ...change });

/** A fetch that counts the requests it passes on. */
function countingFetch(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  return { urls, fetch: (input, init) => { urls.push(String(input)); return fetch(input, init); } };
}

/** The two Cache API methods downloadHubFile uses, in memory. */
function memoryCache(): { cache: Cache; stored: Map<string, Uint8Array> } {
  const stored = new Map<string, Uint8Array>();
  const cache = {
    async match(url: string) {
      const bytes = stored.get(url);
      return bytes ? new Response(bytes.slice()) : undefined;
    },
    async put(url: string, response: Response) {
      stored.set(url, new Uint8Array(await response.arrayBuffer()));
    },
  };
  return { cache: cache as unknown as Cache, stored };
}

describe('downloadHubFile', () => {
  test('returns the bytes of a file of the repo', async () => {
    const bytes = await downloadHubFile(file('config.json'), { cache: null });
    expect(Buffer.from(bytes).equals(CONFIG)).toBe(true);
  });

  test('progress never goes down and ends at the file size', async () => {
    const seen: [number, number | undefined][] = [];
    const bytes = await downloadHubFile(file('onnx/model.onnx'), { cache: null, onProgress: (loaded, total) => seen.push([loaded, total]) });
    expect(Buffer.from(bytes).equals(ONNX)).toBe(true);
    expect(seen.length).toBeGreaterThan(1); // a 1.9 MB file arrives in several chunks
    expect(seen.at(-1)).toEqual([ONNX.byteLength, ONNX.byteLength]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![0]).toBeGreaterThanOrEqual(seen[i - 1]![0]);
    expect(seen.every(([, total]) => total === ONNX.byteLength)).toBe(true);

    const small: [number, number | undefined][] = [];
    await downloadHubFile(file('config.json'), { cache: null, onProgress: (loaded, total) => small.push([loaded, total]) });
    expect(small.at(-1)).toEqual([CONFIG.byteLength, CONFIG.byteLength]);
  });

  test('a body of unknown length is read whole, with no total', async () => {
    const seen: [number, number | undefined][] = [];
    const bytes = await downloadHubFile({ repo: 'status/chunked', path: 'x.bin', hubUrl: refusalsUrl }, { cache: null, onProgress: (loaded, total) => seen.push([loaded, total]) });
    expect(bytes.byteLength).toBe(UNSIZED.byteLength);
    expect(Buffer.from(bytes).equals(Buffer.from(UNSIZED))).toBe(true);
    expect(seen.at(-1)).toEqual([UNSIZED.byteLength, undefined]);
  });

  test('a file the repo lacks is hub/not-found', async () => {
    const error = await failure(() => downloadHubFile(file('nope.json'), { cache: null }));
    expect(errorCode(error)).toBe('hub/not-found');
    expect(error.message).toContain(hubFileUrl(file('nope.json')));
  });

  test('a host that cannot be reached is hub/fetch-failed', async () => {
    const error = await failure(() => downloadHubFile(file('config.json', { hubUrl: closedUrl }), { cache: null }));
    expect(errorCode(error)).toBe('hub/fetch-failed');
    expect(error.message).toMatch(/Could not reach/);
  });

  test.each([['401', 'hub/gated'], ['403', 'hub/gated'], ['500', 'hub/fetch-failed']])('HTTP %s is %s', async (status, expected) => {
    const error = await failure(() => downloadHubFile({ repo: `status/${status}`, path: 'config.json', hubUrl: refusalsUrl }, { cache: null }));
    expect(errorCode(error)).toBe(expected);
    expect(error.message).toContain(`HTTP ${status}`);
  });

  test('a body that breaks off is hub/fetch-failed', async () => {
    const error = await failure(() => downloadHubFile({ repo: 'status/cut', path: 'x.bin', hubUrl: refusalsUrl }, { cache: null }));
    expect(errorCode(error)).toBe('hub/fetch-failed');
  });

  test('an aborted signal is cancelled, before the request and during the body', async () => {
    const counting = countingFetch();
    const before = await failure(() => downloadHubFile(file('config.json'), { cache: null, signal: AbortSignal.abort(), fetch: counting.fetch }));
    expect(errorCode(before)).toBe('cancelled');
    expect(counting.urls).toEqual([]);

    const controller = new AbortController();
    const during = await failure(() => downloadHubFile(file('onnx/model.onnx'), { cache: null, signal: controller.signal, onProgress: () => controller.abort() }));
    expect(errorCode(during)).toBe('cancelled');

    // Also when the fetch given does not pass the signal on: the download checks it between chunks.
    const deaf = new AbortController();
    const ignoring: typeof fetch = (input) => fetch(input);
    const unheard = await failure(() => downloadHubFile(file('onnx/model.onnx'), { cache: null, signal: deaf.signal, fetch: ignoring, onProgress: () => deaf.abort() }));
    expect(errorCode(unheard)).toBe('cancelled');
  });

  test('a second download of a file is served from the cache, without a request', async () => {
    const { cache, stored } = memoryCache();
    const counting = countingFetch();
    const first = await downloadHubFile(file('config.json'), { cache, fetch: counting.fetch });
    expect(counting.urls).toEqual([hubFileUrl(file('config.json'))]);
    expect(Buffer.from(stored.get(hubFileUrl(file('config.json')))!).equals(CONFIG)).toBe(true);

    const seen: [number, number | undefined][] = [];
    const second = await downloadHubFile(file('config.json'), { cache, fetch: counting.fetch, onProgress: (loaded, total) => seen.push([loaded, total]) });
    expect(counting.urls).toHaveLength(1);
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    expect(seen).toEqual([[CONFIG.byteLength, CONFIG.byteLength]]);
  });
});
