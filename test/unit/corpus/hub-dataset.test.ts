/**
 * Hugging Face datasets over real HTTP: the hub stand-in (scripts/servers/static-server.ts) serves
 * test/fixtures/hub/datasets/autointerp-test/tiny-corpus/, laid out like the hub's parquet-conversion
 * branch (default/train/0000.parquet, 0001.parquet). A counting fetch records every request so the
 * tests can check that parquet is read in byte ranges and that stopping early stops downloading.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from '../../../scripts/servers/static-server.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import {
  httpRangeBuffer,
  hubDatasetFileUrl,
  listColumns,
  readDocuments,
  readHubDataset,
  readParquet,
  resolveHubParquetFiles,
} from '../../../src/lib/corpus/index.ts';
import { CORPUS_DOCUMENTS, TINY_CORPUS_DIR, TINY_CORPUS_REPO } from '../../../scripts/fixtures/corpus.ts';
import { collect, failure } from '../../support/async.ts';
import { hubParquetApiUrl } from '../../../src/lib/hub/index.ts';

const ROOT = join(import.meta.dirname, '../../..');
const HUB_ROOT = join(ROOT, 'test/fixtures/hub');

interface Seen {
  url: string;
  method: string;
  range: string | null;
}

let server: StaticServer;
let hubUrl: string;
let seen: Seen[] = [];

/** Global fetch that records what it was asked. */
const countingFetch: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  seen.push({ url: request.url, method: request.method, range: request.headers.get('range') });
  return fetch(request);
};

beforeAll(async () => {
  server = await startStaticServer([{ prefix: '/', root: HUB_ROOT, hubLayout: true }]);
  hubUrl = server.url;
});

afterAll(async () => {
  await server.close();
});

const allTexts = CORPUS_DOCUMENTS.map((d) => d.text);
const shardSize = (n: number) => statSync(join(ROOT, TINY_CORPUS_DIR, `default/train/000${n}.parquet`)).size;

describe('hub dataset URLs', () => {
  it('follow the hub conventions', () => {
    expect(hubParquetApiUrl({ repo: 'NeelNanda/pile-10k' })).toBe('https://huggingface.co/api/datasets/NeelNanda/pile-10k/parquet/default/train');
    expect(hubDatasetFileUrl({ repo: 'NeelNanda/pile-10k' }, 'refs/convert/parquet', 'default/train/0000.parquet'))
      .toBe('https://huggingface.co/datasets/NeelNanda/pile-10k/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet');
    expect(hubDatasetFileUrl({ repo: 'a/b', hubUrl: 'http://127.0.0.1:1/' }, 'main', 'data/train 1.parquet')).toBe('http://127.0.0.1:1/datasets/a/b/resolve/main/data/train%201.parquet');
  });

  it('are tried in order, API first, then the conversion branch, and all named in the error', async () => {
    const asked: string[] = [];
    const notFound: typeof fetch = async (input) => {
      asked.push(String(input));
      return new Response('not found', { status: 404 });
    };
    const error = await failure(() => resolveHubParquetFiles({ repo: 'owner/name' }, { fetch: notFound }));
    expect(errorCode(error)).toBe('corpus/no-parquet-files');
    expect(asked).toEqual([
      'https://huggingface.co/api/datasets/owner/name/parquet/default/train',
      'https://huggingface.co/datasets/owner/name/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet',
      'https://huggingface.co/datasets/owner/name/resolve/refs%2Fconvert%2Fparquet/default/partial-train/0000.parquet',
    ]);
    for (const url of asked) expect(error.message).toContain(url);
    // The advice names what the page and the command offer for it.
    expect(error.message).toContain('list the split\'s parquet files yourself in the "Parquet files" field (--files with npm run cache): their paths in the repo, comma-separated, for example data/train-00000-of-00001.parquet.');
  });

  it('refuse gated datasets with a clear message', async () => {
    const gated: typeof fetch = async () => new Response('', { status: 401 });
    const error = await failure(() => resolveHubParquetFiles({ repo: 'owner/gated' }, { fetch: gated }));
    expect(errorCode(error)).toBe('corpus/fetch-failed');
    expect(error.message).toMatch(/private or gated/);
    expect(errorCode(await failure(() => resolveHubParquetFiles({ repo: 'no-owner' })))).toBe('corpus/bad-options');
  });
});

describe('hub dataset over HTTP (the stand-in)', () => {
  it('finds the shards on the conversion branch when there is no API, and reads every document in order', async () => {
    seen = [];
    // The default revision: the hub's parquet-conversion branch, one URL segment (refs%2Fconvert%2Fparquet).
    const ref = { repo: TINY_CORPUS_REPO, hubUrl };
    const resolved = await resolveHubParquetFiles(ref, { fetch: countingFetch });
    expect(resolved.via).toBe('conversion-branch');
    expect(resolved.files).toEqual([
      { url: `${hubUrl}datasets/${TINY_CORPUS_REPO}/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet`, byteLength: shardSize(0) },
      { url: `${hubUrl}datasets/${TINY_CORPUS_REPO}/resolve/refs%2Fconvert%2Fparquet/default/train/0001.parquet`, byteLength: shardSize(1) },
    ]);
    expect(await collect(readHubDataset({ ...ref, column: 'text' }, { fetch: countingFetch }))).toEqual(allTexts);
  });

  it('reads parquet in byte ranges and stops downloading when the reader stops', async () => {
    seen = [];
    const documents: string[] = [];
    const source = { kind: 'hub' as const, repo: TINY_CORPUS_REPO, hubUrl, revision: 'main', column: 'text' };
    for await (const document of readDocuments(source, { fetch: countingFetch, initialFetchSize: 2048 })) {
      documents.push(document);
      if (documents.length === 3) break;
    }
    expect(documents).toEqual(allTexts.slice(0, 3));
    const gets = seen.filter((r) => r.method === 'GET' && r.url.endsWith('.parquet'));
    expect(gets.length).toBeGreaterThanOrEqual(2); // the footer, then the first row group's text chunk
    expect(gets.every((r) => r.range !== null && /^bytes=\d+-\d+$/.test(r.range))).toBe(true);
    expect(gets.every((r) => r.url.endsWith('0000.parquet'))).toBe(true); // the second shard is never opened
    // The footer is one suffix read of initialFetchSize; the data reads cover only the first of the
    // shard's three row groups (7 of 19 documents), not the whole file.
    const ranges = gets.map((r) => r.range!.slice(6).split('-').map(Number) as [number, number]);
    const size = shardSize(0);
    expect(ranges[0]).toEqual([size - 2048, size - 1]);
    const dataBytes = ranges.slice(1).reduce((sum, [from, to]) => sum + to - from + 1, 0);
    expect(dataBytes).toBeGreaterThan(0);
    expect(dataBytes).toBeLessThan((size - 2048) / 2);
    expect(server.requests.some((path) => path.includes('/datasets/autointerp-test/tiny-corpus/resolve/main/default/train/0000.parquet'))).toBe(true);
  });

  it('uses the file list from the hub API when there is one', async () => {
    seen = [];
    const apiUrl = hubParquetApiUrl({ repo: TINY_CORPUS_REPO, hubUrl });
    const shard = (n: number) => `${hubUrl}datasets/${TINY_CORPUS_REPO}/resolve/main/default/train/000${n}.parquet`;
    const withApi: typeof fetch = async (input, init) =>
      String(input) === apiUrl ? Response.json([shard(1), shard(0)]) : countingFetch(input, init);
    const resolved = await resolveHubParquetFiles({ repo: TINY_CORPUS_REPO, hubUrl }, { fetch: withApi });
    expect(resolved).toEqual({ files: [{ url: shard(1) }, { url: shard(0) }], via: 'api', tried: [apiUrl] });
    const documents = await collect(readHubDataset({ repo: TINY_CORPUS_REPO, hubUrl, column: 'text' }, { fetch: withApi }));
    expect(documents).toEqual([...allTexts.slice(19), ...allTexts.slice(0, 19)]);
  });

  it('reads an explicit file list and lists columns from the first file', async () => {
    const ref = { repo: TINY_CORPUS_REPO, hubUrl, files: ['default/train/0001.parquet'] };
    expect(await collect(readHubDataset({ ...ref, column: 'title' }))).toEqual(CORPUS_DOCUMENTS.slice(19).map((d) => d.title));
    const listing = await listColumns({ kind: 'hub', ...ref });
    expect(listing.columns.map((c) => c.name)).toEqual(['text', 'title', 'id']);
    expect(listing.suggested).toBe('text');
    expect(listing.rows).toBe(19);
  });

  it('reports a missing file with its URL and status', async () => {
    const url = hubDatasetFileUrl({ repo: TINY_CORPUS_REPO, hubUrl }, 'main', 'default/train/0009.parquet');
    const error = await failure(() => collect(readParquet(url, 'text')));
    expect(errorCode(error)).toBe('corpus/fetch-failed');
    expect(error.message).toContain(url);
    expect(error.message).toContain('HTTP 404');
  });
});

describe('httpRangeBuffer', () => {
  it('copes with a server that ignores Range and one that refuses HEAD', async () => {
    const body = new Uint8Array(100).map((_, i) => i);
    let gets = 0;
    const noRanges: typeof fetch = async (_input, init) => {
      if (init?.method === 'HEAD') return new Response(null, { status: 405 });
      gets++;
      return new Response(body);
    };
    const buffer = await httpRangeBuffer('http://example.invalid/file', { fetch: noRanges });
    expect(buffer.byteLength).toBe(100);
    expect([...new Uint8Array(await buffer.slice(10, 13))]).toEqual([10, 11, 12]);
    expect([...new Uint8Array(await buffer.slice(98))]).toEqual([98, 99]);
    expect(gets).toBe(1);

    const rangesNoHead: typeof fetch = async (_input, init) => {
      if (init?.method === 'HEAD') return new Response(null, { status: 403 });
      const [from, to] = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range') ?? '')!.slice(1).map(Number);
      return new Response(body.slice(from!, to! + 1), { status: 206, headers: { 'Content-Range': `bytes ${from}-${to}/100` } });
    };
    const ranged = await httpRangeBuffer('http://example.invalid/file', { fetch: rangesNoHead });
    expect(ranged.byteLength).toBe(100);
    expect([...new Uint8Array(await ranged.slice(50, 52))]).toEqual([50, 51]);
  });

  it('turns network failures and aborts into named errors', async () => {
    const offline: typeof fetch = async () => {
      throw new TypeError('fetch failed');
    };
    expect(errorCode(await failure(() => httpRangeBuffer('http://example.invalid/x', { fetch: offline })))).toBe('corpus/fetch-failed');
    const controller = new AbortController();
    controller.abort();
    expect(errorCode(await failure(() => httpRangeBuffer(`${hubUrl}x`, { signal: controller.signal })))).toBe('cancelled');
  });
});
