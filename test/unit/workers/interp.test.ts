/**
 * The interp worker's class in Node over a real cache: the Engine (onnxruntime-node, fake-indexeddb)
 * caches the tiny GPT-2's activations through the saelens-topk fixture; Interp reads the same database.
 * What it says is checked against the cache's raw activations (engine.cacheFeature) computed here, and
 * the engine's logit effects and similar features against the fixture weights read from safetensors.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startStaticServer, type StaticServer } from '../../../scripts/servers/static-server.ts';
import { errorCode, loadSaeWeights, detectSaes, openCacheDb, parseSafetensorsHeader, readRunTokens, type CacheRun, type Progress } from '../../../src/lib/index.ts';
import { Engine } from '../../../workers/engine/engine.ts';
import { Interp } from '../../../workers/interp/interp.ts';
import { failure } from '../../support/async.ts';
import { createNodeRuntime } from '../../support/node-runtime.ts';
import { FIXTURES, fixtureFiles } from '../../support/sae-fixtures.ts';

const SAE = 'saelens-topk'; // k = 8 of 128 features at blocks.2.hook_resid_post
const CTX = 64;
const DB = `interp-test-${Date.now()}`;

let server: StaticServer;
let engine: Engine;
let interp: Interp;
let run: CacheRun;
let tokens: Uint32Array;

beforeAll(async () => {
  server = await startStaticServer([{ prefix: '/', root: join(FIXTURES, 'hub'), hubLayout: true }]);
  engine = new Engine(createNodeRuntime(), { openDb: () => openCacheDb(DB) });
  await engine.loadModel({ repo: 'autointerp-test/tiny-gpt2', hubUrl: server.url });
  const opened = await engine.openSaeFiles(fixtureFiles(SAE).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
  const { spec } = await engine.selectSae(opened.choices[0]!.id);
  const file = new File([readFileSync(join(FIXTURES, 'corpus/paragraphs.txt'))], 'paragraphs.txt', { type: 'text/plain' });
  await engine.prepareCorpus({ kind: 'text', file }, { ctx: CTX, maxTokens: 16 * CTX, seed: 22, prependBos: spec.prependBos });
  run = await engine.runCache((await engine.createCache({})).id);
  tokens = await readRunTokens(await openCacheDb(DB), run);
  interp = new Interp({ openDb: () => openCacheDb(DB) });
}, 120_000);
afterAll(async () => {
  await server.close();
});

/** Everything about one feature computed from the raw cache here: counts, max, the strongest 32-token grid window. */
async function reference(feature: number) {
  const raw = await engine.cacheFeature(run.id, feature);
  const keep = Array.from(raw.tokens, (t, i) => [t, raw.values[i]!] as const).filter(([t]) => !(run.settings.dataset.prependBos && t % CTX === 0));
  const windows = new Map<number, number>();
  for (const [t, v] of keep) windows.set(Math.floor(t / 32), Math.max(windows.get(Math.floor(t / 32)) ?? -Infinity, v));
  const [strongest] = [...windows].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return { n: keep.length, windows: windows.size, max: Math.max(...keep.map(([, v]) => v)), mean: keep.reduce((a, [, v]) => a + v, 0) / keep.length, strongest, keep };
}

test('the feature table is the statistics of the raw cache, computed once and then read back', async () => {
  expect(run.status).toBe('done');
  const events: Progress[] = [];
  const table = await interp.featureTable(run.id, (p) => events.push(p));
  expect(events.at(-1)).toMatchObject({ stage: 'stats', done: 128, total: 128 });
  expect([table.width, table.exampleCtx, table.skipBosPosition]).toEqual([128, 32, run.settings.dataset.prependBos]);
  for (const f of [0, 5, 77, 127]) {
    const ref = await reference(f);
    expect([table.nnz[f], table.windows[f]]).toEqual([ref.n, ref.windows]);
    if (ref.n) expect(table.max[f]).toBeCloseTo(ref.max, 6);
    if (ref.n) expect(table.mean[f]).toBeCloseTo(ref.mean, 5);
  }
  expect(table.dead).toBe(Array.from(table.nnz).filter((n) => n === 0).length);
  expect(await interp.hasCurrentStats(run.id)).toBe(true);
  const again = await interp.featureTable(run.id, (p) => events.push(p));
  expect(again.computedAt).toBe(table.computedAt); // stored, not computed again
});

test('a feature page: the strongest window first, the histogram counts every activation, token text from the model\'s tokenizer', async () => {
  const table = await interp.featureTable(run.id);
  const feature = Array.from(table.nnz).indexOf(Math.max(...table.nnz));
  const ref = await reference(feature);
  const view = await interp.featurePage(run.id, feature);
  const first = view.top[0]!;
  expect(first.row * CTX + first.start).toBe(ref.strongest![0] * 32);
  expect(Math.max(...first.activations)).toBeCloseTo(ref.strongest![1], 6);
  expect(first.tokens).toEqual(Array.from(tokens.subarray(first.row * CTX + first.start, first.row * CTX + first.start + 32)));
  expect(view.histogram.counts.reduce((a, b) => a + b, 0)).toBe(ref.n);
  expect(view.histogram.counts).toHaveLength(50);
  expect(view.record.n_activations).toBe(ref.n);
  expect(view.density).toBeCloseTo(ref.n / (run.nRows * (CTX - (run.settings.dataset.prependBos ? 1 : 0))), 9);
  const tokenCounts = new Map<number, number>();
  for (const [t] of ref.keep) tokenCounts.set(tokens[t]!, (tokenCounts.get(tokens[t]!) ?? 0) + 1);
  expect(view.topTokens[0]!.count).toBe(Math.max(...tokenCounts.values()));
  const { tokenize } = engine;
  const ids = first.tokens.slice(0, 5);
  for (const id of ids) expect((await tokenize.call(engine, view.pieces[id]!)).ids).toEqual([id]);
  expect(view.piecesError).toBeUndefined();
  expect(view.quantiles).toHaveLength(10);
});

test('a window length that does not divide the rows is refused, naming the lengths that do', async () => {
  expect(await failure(() => interp.featurePage(run.id, 3, { exampleCtx: 24 }))).toMatchObject({ code: 'cache/bad-input', message: expect.stringMatching(/must divide the cache's rows of 64 tokens/) });
});

test('without the tokenizer the page still shows the records, and says why token text is missing', async () => {
  const offline = new Interp({ openDb: () => openCacheDb(DB), loadTokenizer: () => Promise.reject(new Error('offline')) });
  const view = await offline.featurePage(run.id, 3);
  expect(view.pieces).toEqual({});
  expect(view.piecesError).toMatch(/tokenizer of autointerp-test\/tiny-gpt2 could not be loaded \(offline\)/);
  expect(view.record.feature).toBe(3);
});

test('logit effects and similar features come from the cache\'s SAE: the decoder row times the token embedding, and decoder cosines', async () => {
  const [candidate] = (await detectSaes(fixtureFiles(SAE).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })))).candidates;
  const weights = await loadSaeWeights(candidate!, candidate!.spec);
  // The embedding from the model's safetensors, not from the ONNX graph the engine reads it from.
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'hub/autointerp-test/tiny-gpt2/model.safetensors')));
  const entry = parseSafetensorsHeader(bytes).tensors.get('transformer.wte.weight')!;
  const wte = new Float32Array(bytes.slice(entry.begin, entry.end).buffer);
  const feature = 9;
  const dIn = 64;
  const direction = weights.wDec.subarray(feature * dIn, feature * dIn + dIn);
  const logits = Array.from({ length: wte.length / dIn }, (_, t) => [t, direction.reduce((a, x, d) => a + x * wte[t * dIn + d]!, 0)] as const).sort((a, b) => b[1] - a[1]);
  const directions = await engine.featureDirections(run.settings.sae.fingerprint, feature, 5);
  expect(directions.top.map((e) => e.token)).toEqual(logits.slice(0, 5).map(([t]) => t));
  expect(directions.bottom.map((e) => e.token)).toEqual(logits.slice(-5).reverse().map(([t]) => t));
  directions.top.forEach((e, i) => expect(e.value).toBeCloseTo(logits[i]![1], 4));
  expect(directions.top[0]!.piece).toBeTypeOf('string');
  const norm = (f: number) => Math.hypot(...weights.wDec.subarray(f * dIn, f * dIn + dIn));
  const cosines = Array.from({ length: 128 }, (_, g) => [g, weights.wDec.subarray(g * dIn, g * dIn + dIn).reduce((a, x, d) => a + x * direction[d]!, 0) / (norm(g) * norm(feature))] as const)
    .filter(([g]) => g !== feature)
    .sort((a, b) => b[1] - a[1]);
  expect(directions.similar.map((s) => s.feature)).toEqual(cosines.slice(0, 5).map(([g]) => g));
  expect(errorCode(await failure(() => engine.featureDirections('another-sae', feature)))).toBe('sae/not-ready');
});
