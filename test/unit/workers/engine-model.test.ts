/**
 * The worker's Engine in Node: onnxruntime-node instead of WebGPU (test/support/node-runtime.ts), the tiny
 * GPT-2 from a local hub stand-in over real HTTP. Loading (info, progress, errors), tokenizing, hook
 * activations and logits against the float64 reference forward, and SAE encoding against the reference
 * encoder: TopK and ReLU, a growing cap, W_enc split into blocks. test/browser/activation-engine.test.ts
 * checks the same calls on WebGPU; engine-cache.test.ts covers the cache calls.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startStaticServer, type StaticServer } from '../../../scripts/servers/static-server.ts';
import { detectSaes, errorCode, fingerprintOf, loadSaeWeights, type Progress, type SparseActivations } from '../../../src/lib/index.ts';
import { Engine } from '../../../workers/engine/engine.ts';
import type { ReadySae, SelectSaeOptions } from '../../../workers/engine/api.ts';
import { failure } from '../../support/async.ts';
import { createNodeRuntime, NODE_DEVICE, type NodeRuntimeOptions } from '../../support/node-runtime.ts';
import { referenceForward } from '../../support/reference-gpt2.ts';
import { compareCodes, expectedCodes, FIXTURES, fixtureFiles, TINY_GPT2, tinyGpt2Weights, tokenRows } from '../../support/sae-fixtures.ts';

const REPO = 'autointerp-test/tiny-gpt2';
let server: StaticServer;
const source = (repo = REPO) => ({ repo, hubUrl: server.url });

beforeAll(async () => {
  server = await startStaticServer([{ prefix: '/', root: join(FIXTURES, 'hub'), hubLayout: true }]);
});
afterAll(async () => {
  await server.close();
});

/** An Engine on onnxruntime-node with the tiny GPT-2 loaded. */
async function loadedEngine(options: NodeRuntimeOptions = {}): Promise<Engine> {
  const engine = new Engine(createNodeRuntime(options));
  await engine.loadModel(source());
  return engine;
}

/** Opens an SAE fixture as dropped files: the engine's choice and the same SAE as the core detects it. */
async function openFixture(engine: Engine, fixture: string) {
  const files = fixtureFiles(fixture).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) }));
  const opened = await engine.openSaeFiles(files);
  expect(opened.skipped).toEqual([]);
  const { candidates } = await detectSaes(files);
  expect(opened.choices.map((c) => c.id)).toEqual(candidates.map((c) => c.id));
  return { id: opened.choices[0]!.id, candidate: candidates[0]! };
}

/** Selects the fixture's SAE, encodes `rows` and checks the codes against the float64 reference. */
async function encodeAgainstReference(engine: Engine, fixture: string, rows: number[][], options: SelectSaeOptions = {}): Promise<{ ready: ReadySae; sparse: SparseActivations; most: number }> {
  const { id, candidate } = await openFixture(engine, fixture);
  const ready = await engine.selectSae(id, options);
  const sparse = await engine.encode(rows);
  const { codes } = await expectedCodes(ready.spec, await loadSaeWeights(candidate, ready.spec), rows);
  const comparison = compareCodes(sparse, codes);
  expect(sparse.tokens).toBe(rows.length * rows[0]!.length);
  expect(comparison.activeTotal).toBeGreaterThan(sparse.tokens); // features really fire
  expect(comparison.mismatchedTokens).toBe(0);
  expect(comparison.worstRelative).toBeLessThan(1e-4);
  return { ready, sparse, most: Math.max(...codes.map((c) => c.indices.length)) };
}

/** Largest |a - b| over the largest |b|. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  }
  expect(scale).toBeGreaterThan(0.01);
  return worst / scale;
}

describe('loading the model', () => {
  test('reports the model, with download progress in one shape that only goes forward and ends complete', async () => {
    const engine = new Engine(createNodeRuntime());
    expect(await engine.gpuDevice()).toBeUndefined(); // no session yet
    const events: Progress[] = [];
    const info = await engine.loadModel(source(), (p) => events.push(p));
    expect(info).toEqual({
      repo: REPO, revision: 'main', onnxFile: 'onnx/model.onnx', dtype: 'fp32', modelType: 'gpt2', nLayer: 3, dModel: 64, nHead: 4, dMlp: 256, vocabSize: 4097, nPositions: 1024,
      bosTokenId: 4096, eosTokenId: 4096, onnxBytes: statSync(join(TINY_GPT2, 'onnx/model.onnx')).size,
    });
    expect(events.length).toBeGreaterThan(1);
    for (const event of events) {
      expect(Object.keys(event).sort()).toEqual(['done', 'stage', 'text', 'total']);
      expect(event.text).toMatch(/^Downloading /);
    }
    const stages = [...new Set(events.map((e) => e.stage))];
    expect(stages).toEqual(['download config.json', 'download onnx/model.onnx']);
    for (const stage of stages) {
      const mine = events.filter((e) => e.stage === stage);
      mine.slice(1).forEach((e, i) => expect(e.done).toBeGreaterThanOrEqual(mine[i]!.done));
      expect(mine.at(-1)!.done).toBe(mine.at(-1)!.total);
    }
    expect(events.at(-1)!.total).toBe(info.onnxBytes);
    expect(await engine.webgpu()).toMatchObject({ available: true });
  });

  test('a repo the hub does not have fails as the hub answers it (401: missing, private or gated), naming it', async () => {
    const error = await failure(() => new Engine(createNodeRuntime()).loadModel(source('autointerp-test/no-such-model')));
    expect(errorCode(error)).toBe('hub/gated');
    expect(error.message).toContain('autointerp-test/no-such-model');
  });

  test('aborting the signal mid-download fails with cancelled and leaves no model', async () => {
    const engine = new Engine(createNodeRuntime());
    const abort = new AbortController();
    const error = await failure(() => engine.loadModel(source(), () => abort.abort(), abort.signal));
    expect(errorCode(error)).toBe('cancelled');
    expect(errorCode(await failure(() => engine.hookActivations('blocks.0.hook_resid_pre', tokenRows(1, 4))))).toBe('model/not-loaded');
  });

  test('without WebGPU the model is refused with the reason and what to do', async () => {
    const engine = new Engine(createNodeRuntime({ gpu: { available: false, reason: 'No adapter here.', advice: 'Use Chrome.' } }));
    const error = await failure(() => engine.loadModel(source()));
    expect(errorCode(error)).toBe('webgpu/unavailable');
    expect(error.message).toBe('No adapter here. Use Chrome.');
  });

  test('encoding needs a model, then an SAE', async () => {
    const rows = tokenRows(1, 4);
    expect(errorCode(await failure(() => new Engine(createNodeRuntime()).encode(rows)))).toBe('model/not-loaded');
    const engine = await loadedEngine();
    expect(errorCode(await failure(() => engine.encode(rows)))).toBe('sae/not-ready');
    expect(errorCode(await failure(() => engine.createCache({ tokens: new Uint32Array(8), ctx: 4 })))).toBe('sae/not-ready');
    expect(await engine.encoderCap()).toBeUndefined();
  });
});

describe('the loaded model', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadedEngine();
  });

  test('tokenize gives ids and pieces that decode back to the text', async () => {
    const text = 'The market opens before the sun has cleared the rooftops.';
    const { ids, pieces } = await engine.tokenize(text);
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.length).toBeLessThan(text.length);
    expect(pieces).toHaveLength(ids.length);
    expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 4097)).toBe(true);
    expect(pieces.join('')).toBe(text);
  });

  test('hookActivations matches the reference forward, on the runtime\'s device', async () => {
    const rows = tokenRows(2, 12, 5);
    const hookName = 'blocks.1.hook_resid_mid';
    const out = await engine.hookActivations(hookName, rows);
    expect(out.dims).toEqual([2, 12, 64]);
    const reference = referenceForward(await tinyGpt2Weights(), rows).hooks.get(hookName)!;
    expect(relativeError(out.data, reference)).toBeLessThan(1e-4);
    expect(await engine.gpuDevice()).toBe(NODE_DEVICE);
  });

  test('logits of right-padded rows match the reference forward at the real tokens', async () => {
    const rows = [tokenRows(1, 7, 3)[0]!, tokenRows(1, 4, 4)[0]!];
    const out = await engine.logits(rows);
    expect(out.dims).toEqual([2, 7, 4097]);
    const padded = rows.map((r) => [...r, ...new Array<number>(7 - r.length).fill(0)]);
    const reference = referenceForward(await tinyGpt2Weights(), padded, { attentionMask: padded.map((r, b) => r.map((_, t) => (t < rows[b]!.length ? 1 : 0))) }).logits!;
    const real = (data: ArrayLike<number>) => rows.flatMap((row, b) => Array.from({ length: row.length * 4097 }, (_, i) => data[b * 7 * 4097 + i]!));
    expect(relativeError(real(out.data), real(reference))).toBeLessThan(1e-4);
  });
});

describe('SAE encoding', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadedEngine();
  });

  test('saelens-topk: the reference encoder\'s active features and values, k per token', async () => {
    const rows = tokenRows(3, 16, 21);
    const { ready, sparse } = await encodeAgainstReference(engine, 'saelens-topk', rows);
    expect(ready).toMatchObject({ label: expect.any(String), encoderBlocks: 1, hookTensor: expect.any(String) });
    expect(ready.spec).toMatchObject({ architecture: 'topk', k: 8, width: 128, hookName: 'blocks.2.hook_resid_post' });
    const weights = fixtureFiles('saelens-topk').find((f) => f.path.endsWith('.safetensors'))!;
    expect(ready.fingerprint).toBe(await fingerprintOf(new Blob([weights.bytes])));
    expect(sparse.features.length).toBe(3 * 16 * 8);
    expect(await engine.encoderCap()).toBe(8);
  });

  test('saelens-standard (ReLU): the reference encoder\'s codes', async () => {
    const { ready, most } = await encodeAgainstReference(engine, 'saelens-standard', tokenRows(2, 16, 11));
    expect(ready.spec).toMatchObject({ architecture: 'relu', width: 96, hookName: 'blocks.1.hook_resid_pre' });
    expect(await engine.encoderCap()).toBeGreaterThanOrEqual(most);
  });

  test('a ReLU SAE whose tokens exceed the cap is re-run with a larger cap: nothing is dropped', async () => {
    const { id } = await openFixture(engine, 'saelens-standard');
    await engine.selectSae(id, { initialCap: 2 });
    expect(await engine.encoderCap()).toBe(2);
    const { most } = await encodeAgainstReference(engine, 'saelens-standard', tokenRows(2, 16, 11), { initialCap: 2 });
    expect(most).toBeGreaterThan(2);
    const cap = (await engine.encoderCap())!;
    expect(cap).toBeGreaterThanOrEqual(most);
    expect(cap).toBeLessThanOrEqual(96);
  });

  test('W_enc split into column blocks gives the same codes as one block', async () => {
    const rows = tokenRows(2, 16, 21);
    const whole = await encodeAgainstReference(engine, 'saelens-topk', rows);
    const split = await encodeAgainstReference(engine, 'saelens-topk', rows, { maxTensorBytes: 64 * 4 * 40 });
    expect(split.ready.encoderBlocks).toBe(Math.ceil(128 / 40));
    expect(split.sparse.features).toEqual(whole.sparse.features);
    expect(split.sparse.offsets).toEqual(whole.sparse.offsets);
  });

  test('createCache with tokens, no ctx and no prepared corpus is a cache/bad-input error', async () => {
    await engine.selectSae((await openFixture(engine, 'saelens-topk')).id);
    expect(errorCode(await failure(() => engine.createCache({ tokens: new Uint32Array(64) })))).toBe('cache/bad-input');
  });

  test('time() measures the encoder product alone once an SAE is selected', async () => {
    const fresh = await loadedEngine();
    const rows = tokenRows(1, 8, 3);
    expect(errorCode(await failure(() => fresh.time({ kind: 'product', rows, repeats: 1 })))).toBe('sae/not-ready');
    await fresh.selectSae((await openFixture(fresh, 'saelens-topk')).id);
    const timed = await fresh.time({ kind: 'product', rows, repeats: 2 });
    expect(timed.repeats).toHaveLength(2);
    expect(timed.tokens).toBe(16);
    expect(timed.tokensPerSecond).toBeGreaterThan(0);
  });

  test('an adapter with a small buffer limit splits W_enc by itself', async () => {
    const small = await loadedEngine({ limits: { maxBufferSize: 64 * 4 * 50 } });
    const { ready } = await encodeAgainstReference(small, 'saelens-topk', tokenRows(2, 8, 2));
    expect(ready.encoderBlocks).toBeGreaterThan(1);
  });
});

describe('float16 encoding', () => {
  const half = { overrides: { encoderPrecision: 'float16' as const } };

  test('is refused on an adapter without shader-f16, saying why and what to do', async () => {
    const engine = await loadedEngine();
    const { id } = await openFixture(engine, 'saelens-topk');
    const refused = await failure(() => engine.selectSae(id, half));
    expect(errorCode(refused)).toBe('sae/bad-config');
    expect(refused.message).toMatch(/shader-f16.*encode in float32/);
    expect(await engine.encoderCap()).toBeUndefined();
  });

  test.each(['saelens-topk', 'saelens-standard'])('%s: with shader-f16 the encoder runs in float16, measured against float32 on the probe text', async (fixture) => {
    const engine = await loadedEngine({ features: ['shader-f16'] });
    const { id, candidate } = await openFixture(engine, fixture);
    const ready = await engine.selectSae(id, half);
    expect(ready.spec.encoderPrecision).toBe('float16');
    // The probe's tokens (BOS and 64 of the text), and an error that is small. It is there for the float32
    // weights of saelens-standard (rounded to float16); saelens-topk's file holds float16 weights already,
    // and the CPU stand-in widens float16 arithmetic to float32, so there it can be nil.
    const check = ready.precisionCheck!;
    expect(check.tokens).toBe(65);
    if (fixture === 'saelens-standard') expect(check.worstRelative).toBeGreaterThan(1e-6);
    expect(check.worstRelative).toBeLessThan(1e-2);
    expect(check.featureRecall).toBeGreaterThan(0.95);
    expect(check.sameFeatures).toBeGreaterThan(0.8 * check.tokens);
    // And against the float64 reference on other rows: values within float16's rounding.
    const rows = tokenRows(2, 16, 5);
    const { codes } = await expectedCodes(ready.spec, await loadSaeWeights(candidate, ready.spec), rows);
    const comparison = compareCodes(await engine.encode(rows), codes);
    expect(comparison.mismatchedTokens).toBeLessThan(4);
    expect(comparison.worstRelative).toBeLessThan(1e-2);
    // float32 again: no check, exact.
    expect((await engine.selectSae(id)).precisionCheck).toBeUndefined();
  });
});
