/**
 * The worker's Engine building caches in Node: onnxruntime-node (test/support/node-runtime.ts), an
 * in-memory IndexedDB (fake-indexeddb), the tiny GPT-2 from a local hub stand-in and the saelens-topk
 * fixture. A text corpus is tokenized into rows, cached, paused and resumed, refused with other SAE
 * settings, exported in delphi's layout and imported back. test/browser/cache.test.ts runs the same
 * calls on WebGPU and real IndexedDB (reloads, full disks); engine-model.test.ts covers the model calls.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startStaticServer, type StaticServer } from '../../../scripts/servers/static-server.ts';
import { detectSaes, errorCode, loadSaeWeights, openCacheDb, readDelphiZip, storedTokens, type CacheProgress, type Progress, type SaeSpec } from '../../../src/lib/index.ts';
import { Engine } from '../../../workers/engine/engine.ts';
import type { CorpusSummary } from '../../../workers/engine/api.ts';
import { failure } from '../../support/async.ts';
import { createNodeRuntime } from '../../support/node-runtime.ts';
import { expectedCodes, FIXTURES, fixtureFiles } from '../../support/sae-fixtures.ts';

const SAE = 'saelens-topk'; // k = 8 of 128 features at blocks.2.hook_resid_post
const CTX = 16;
const ROWS = 12;
const CHUNK_ROWS = 4; // three chunks
const BATCH_ROWS = 2; // two batches a chunk, so a pause can land inside one
const TOKENS = ROWS * CTX;

let server: StaticServer;
let engine: Engine;
let saeId = '';
let spec: SaeSpec;
let corpus: CorpusSummary;
const corpusProgress: Progress[] = [];
let doneId = '';

beforeAll(async () => {
  server = await startStaticServer([{ prefix: '/', root: join(FIXTURES, 'hub'), hubLayout: true }]);
  engine = new Engine(createNodeRuntime(), { openDb: () => openCacheDb(`engine-cache-test-${Date.now()}-${Math.random()}`) });
  await engine.loadModel({ repo: 'autointerp-test/tiny-gpt2', hubUrl: server.url });
  const opened = await engine.openSaeFiles(fixtureFiles(SAE).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
  saeId = opened.choices[0]!.id;
  spec = (await engine.selectSae(saeId)).spec;
  const file = new File([readFileSync(join(FIXTURES, 'corpus/paragraphs.txt'))], 'paragraphs.txt', { type: 'text/plain' });
  corpus = await engine.prepareCorpus({ kind: 'text', file }, { ctx: CTX, maxTokens: TOKENS, seed: 22, prependBos: spec.prependBos }, (p) => corpusProgress.push(p));
});
afterAll(async () => {
  await server.close();
});

/** Progress in one shape: within a stage `done` never goes down and never passes `total`; the last event is complete. */
function expectProgress(events: Progress[], stage: string, total: number): void {
  expect(events.length).toBeGreaterThan(0);
  for (const [i, event] of events.entries()) {
    expect(event).toMatchObject({ stage, total, done: expect.any(Number), text: expect.any(String) });
    expect(event.done).toBeLessThanOrEqual(total);
    if (i > 0) expect(event.done).toBeGreaterThanOrEqual(events[i - 1]!.done);
  }
  expect(events.at(-1)!.done).toBe(total);
}

const newCache = () => engine.createCache({ chunkRows: CHUNK_ROWS });

/** Every feature's stored (token, value) pairs. */
async function features(runId: string, list = Array.from({ length: spec.width }, (_, f) => f)) {
  return Promise.all(list.map(async (f) => engine.cacheFeature(runId, f)));
}

test('prepareCorpus packs the text into rows, reporting tokenizing progress', async () => {
  expect(spec.prependBos).toBe(true);
  expect(corpus).toMatchObject({ rows: ROWS, ctx: CTX, tokens: TOKENS, seed: 22, budgetReached: true, description: 'paragraphs.txt (paragraphs)' });
  expect(corpus.documents).toBeGreaterThan(1);
  expect(corpus.preview).toHaveLength(3);
  for (const row of corpus.preview) expect(row.length).toBeGreaterThan(CTX);
  expectProgress(corpusProgress, 'tokenize', TOKENS);
});

test('createCache + runCache encode every chunk: done, with the reference encoder\'s activations', async () => {
  const created = await newCache();
  expect(created).toMatchObject({ nRows: ROWS, ctx: CTX, width: 128, chunkRows: CHUNK_ROWS, nChunks: 3, chunksDone: 0, nnz: 0 });
  expect(created.settings.dataset).toMatchObject({ description: corpus.description, seed: 22, ctx: CTX, maxTokens: TOKENS, prependBos: spec.prependBos });
  const events: CacheProgress[] = [];
  const run = await engine.runCache(created.id, { batchRows: BATCH_ROWS }, (p) => events.push(p));
  expect(run).toMatchObject({ status: 'done', chunksDone: 3, nnz: TOKENS * 8 });
  expectProgress(events, 'encode', TOKENS);
  expect(events.map((e) => e.chunksDone)).toEqual([0, 1, 1, 2, 2, 3]);
  expect(await engine.listCaches()).toEqual([run]);
  doneId = run.id;

  // The rows come back out through the export; the float64 reference forward and encoder give what each feature should hold.
  const [hook] = await readDelphiZip(await engine.exportCache(run.id, 2));
  const rows = Array.from({ length: ROWS }, (_, r) => Array.from(hook!.tokens.subarray(r * CTX, (r + 1) * CTX)));
  expect(rows.map((row) => row[0])).toEqual(new Array(ROWS).fill(4096)); // the SAE's prepend_bos: BOS first in every row
  const { candidates } = await detectSaes(fixtureFiles(SAE).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
  const { codes } = await expectedCodes(spec, await loadSaeWeights(candidates[0]!, spec), rows);
  const stored = await features(run.id);
  stored.forEach((feature, f) => {
    const want = codes.flatMap((code, t) => (code.indices.includes(f) ? [{ t, v: code.values[code.indices.indexOf(f)]! }] : []));
    expect(Array.from(feature.tokens), `feature ${f}`).toEqual(want.map((w) => w.t));
    want.forEach((w, i) => expect(Math.abs(feature.values[i]! - w.v), `feature ${f}`).toBeLessThan(1e-3 * Math.abs(w.v) + 1e-4));
  });
});

test('a run aborted after its first progress event is paused with its encoded rows stored; resumed, it is the uninterrupted cache', async () => {
  const created = await newCache();
  const pause = new AbortController();
  const seen: number[] = [];
  const paused = await engine.runCache(created.id, { batchRows: BATCH_ROWS }, (p) => {
    seen.push(p.done);
    pause.abort();
  }, pause.signal);
  // The chunk in hand's encoded rows are kept: the count shown before the pause is the one stored.
  expect(paused).toMatchObject({ status: 'paused', chunksDone: 0, partialRows: BATCH_ROWS, nnz: BATCH_ROWS * CTX * 8 });
  expect(seen).toEqual([BATCH_ROWS * CTX]);
  expect(storedTokens(paused)).toBe(BATCH_ROWS * CTX);
  expect((await engine.listCaches()).find((c) => c.id === created.id)).toEqual(paused);
  expect((await engine.cacheFeature(created.id, 0)).tokens.every((t) => t < BATCH_ROWS * CTX)).toBe(true);
  // An aborted signal pauses again before any work.
  expect(await engine.runCache(created.id, {}, () => seen.push(-1), AbortSignal.abort())).toMatchObject({ status: 'paused', chunksDone: 0, partialRows: BATCH_ROWS });
  expect(seen).toHaveLength(1);

  const events: CacheProgress[] = [];
  const resumed = await engine.runCache(created.id, { batchRows: 3 }, (p) => events.push(p));
  expect(resumed).toMatchObject({ status: 'done', chunksDone: 3, partialRows: 0, nnz: TOKENS * 8 });
  expect(events[0]!.done).toBe(CHUNK_ROWS * CTX); // chunk 0's other rows: it goes on from the stored ones
  expect(await engine.cacheDigest(created.id)).toBe(await engine.cacheDigest(doneId));
  await engine.deleteCache(created.id);
});

test('resuming with the SAE set up differently is refused, naming the setting; set up as before, it completes', async () => {
  const created = await newCache();
  const pause = new AbortController();
  const paused = await engine.runCache(created.id, { batchRows: BATCH_ROWS }, (p) => p.chunksDone === 1 && pause.abort(), pause.signal);
  expect(paused).toMatchObject({ status: 'paused', chunksDone: 1 });

  await engine.selectSae(saeId, { overrides: { centerResidual: !spec.centerResidual } });
  const refused = await failure(() => engine.runCache(created.id));
  expect(errorCode(refused)).toBe('cache/mismatch');
  expect(refused.message).toMatch(/set up differently \(centerResidual: /);
  expect((await engine.listCaches()).find((c) => c.id === created.id)).toMatchObject({ status: 'paused', chunksDone: 1 });

  await engine.selectSae(saeId);
  expect(await engine.runCache(created.id)).toMatchObject({ status: 'done', chunksDone: 3 });
  expect(await engine.cacheDigest(created.id)).toBe(await engine.cacheDigest(doneId));
  await engine.deleteCache(created.id);
});

test('exportCacheFiles gives config.json first, then the splits tiling the features', async () => {
  const files: { path: string; bytes: Uint8Array }[] = [];
  await engine.exportCacheFiles(doneId, 3, async (path, bytes) => {
    files.push({ path, bytes });
  });
  const hook = spec.hookName!;
  expect(files.map((f) => f.path)).toEqual([`${hook}/config.json`, ...Array(3).fill(expect.stringMatching(/\/\d+_\d+\.safetensors$/))]);
  const ranges = files.slice(1).map((f) => /(\d+)_(\d+)\.safetensors$/.exec(f.path)!.slice(1).map(Number) as [number, number]);
  expect(ranges[0]![0]).toBe(0);
  expect(ranges.at(-1)![1]).toBe(spec.width - 1);
  ranges.slice(1).forEach(([start], i) => expect(start).toBe(ranges[i]![1] + 1));
  // delphi's dataset fields name the corpus the rows came from, not the app's one-line description of it.
  expect(JSON.parse(new TextDecoder().decode(files[0]!.bytes))).toMatchObject({ cache_ctx_len: CTX, n_splits: 3, dataset_repo: 'paragraphs.txt', dataset_split: 'train', dataset_column: 'text' });
  for (const file of files.slice(1)) expect(file.bytes.byteLength).toBeGreaterThan(TOKENS * 4);
});

test('the exported zip imports back as a cache with the same activations', async () => {
  const events: Progress[] = [];
  const zip = await engine.exportCache(doneId, 3, (p) => events.push(p));
  expectProgress(events, 'export', 3);
  // The same contents are not imported twice while the original is here: it comes back instead.
  expect((await engine.importDelphi([{ path: 'cache.zip', blob: zip }])).map((r) => r.id)).toEqual([doneId]);
  const some = [0, 1, 41, 42, 84, 85, 127]; // both sides of every split boundary
  const original = await features(doneId, some);
  await engine.deleteCache(doneId);
  const runs = await engine.importDelphi([{ path: 'cache.zip', blob: zip }]);
  expect(runs).toHaveLength(1);
  expect(runs[0]!.id).not.toBe(doneId);
  expect(runs[0]).toMatchObject({ status: 'done', nRows: ROWS, ctx: CTX, width: 128, nnz: TOKENS * 8 });
  expect(runs[0]!.settings.sae.hookName).toBe(spec.hookName);
  expect(await features(runs[0]!.id, some)).toEqual(original);
  expect((await engine.listCaches()).map((c) => c.id)).toContain(runs[0]!.id);
});

// Ids outside the vocabulary (4097 here) are refused up front: 65543 would be stored in 16 bits as 7 and cached
// from the wrong token; 5000 would fail only when encoded, with onnxruntime's raw error (or not at all on WebGPU).
test('createCache refuses token ids outside the model\'s vocabulary', async () => {
  for (const id of [65543, 5000]) {
    expect(errorCode(await failure(() => engine.createCache({ tokens: Uint32Array.from([4096, 1, 2, id]), ctx: 4 })))).toBe('cache/bad-input');
  }
});
