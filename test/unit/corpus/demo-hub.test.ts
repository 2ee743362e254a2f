/**
 * The demo hub the build bundles (scripts/vite-demo-hub.ts into dist/demo-hub/), served as `npm start`
 * serves dist/ (scripts/servers/static-server.ts, no hub mapping: URLs map to files as they are) and
 * by a plain static server (Python's http.server): the demo dataset is found and read through the
 * same lookup as a hub dataset, and the demo model's files are where the model loader asks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedConfig } from 'vite';
import { demoHubPlugin } from '../../../scripts/vite-demo-hub.ts';
import { startStaticServer } from '../../../scripts/servers/static-server.ts';
import { CORPUS_DOCUMENTS, TINY_CORPUS_REPO } from '../../../scripts/fixtures/corpus.ts';
import { readHubDataset, resolveHubParquetFiles } from '../../../src/lib/corpus/index.ts';
import { hubFileUrl } from '../../../src/lib/hub/index.ts';
import { collect } from '../../support/async.ts';
import { hasTool } from '../../support/tools.ts';

let root: string;

/** Runs the plugin's build hooks as `vite build` does, into a temporary dist/. */
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'autointerp-demo-hub-'));
  const plugin = demoHubPlugin();
  const call = (hook: unknown, ...args: unknown[]) => (typeof hook === 'function' ? hook : (hook as { handler: Function }).handler).apply({}, args);
  await call(plugin.configResolved, { root, build: { outDir: 'dist' } } as ResolvedConfig);
  await call(plugin.closeBundle);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** Python's http.server on dist/, until it answers. */
async function startPython(): Promise<{ url: string; close(): void }> {
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', join(root, 'dist')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then(() => true, () => false)) break;
    await new Promise((done) => setTimeout(done, 50));
  }
  return { url, close: () => child.kill() };
}

const texts = CORPUS_DOCUMENTS.map((d) => d.text);

async function checkServed(appUrl: string): Promise<void> {
  const hubUrl = `${appUrl}demo-hub/`;
  const resolved = await resolveHubParquetFiles({ repo: TINY_CORPUS_REPO, hubUrl });
  // The API answer: found first by the lookup, and its URLs have no encoded slash for the host to misread.
  expect(resolved.via).toBe('api');
  expect(resolved.files.map((f) => f.url)).toEqual([0, 1].map((n) => `${hubUrl}datasets/${TINY_CORPUS_REPO}/resolve/main/default/train/000${n}.parquet`));
  expect(await collect(readHubDataset({ repo: TINY_CORPUS_REPO, hubUrl, column: 'text' }))).toEqual(texts);
  // The repo itself at main, for the "Parquet files" field.
  expect(await collect(readHubDataset({ repo: TINY_CORPUS_REPO, hubUrl, column: 'text', files: ['default/train/0001.parquet'] }))).toEqual(texts.slice(19));
  const config = await fetch(hubFileUrl({ repo: 'autointerp-test/tiny-gpt2', path: 'config.json', hubUrl }));
  expect(config.status).toBe(200);
  expect((await config.json()) as unknown).toMatchObject({ model_type: 'gpt2' });
}

describe('the bundled demo hub', () => {
  it('serves the demo dataset and model from static-server.ts, as npm start does', async () => {
    const server = await startStaticServer([{ prefix: '/', root: join(root, 'dist') }]);
    try {
      await checkServed(server.url);
    } finally {
      await server.close();
    }
  });

  it.skipIf(!hasTool('python3'))('serves them from a plain static server (python3 -m http.server)', async () => {
    const server = await startPython();
    try {
      await checkServed(server.url);
    } finally {
      server.close();
    }
  });
});
