/**
 * The worker's Engine (onnxruntime-node) on repos laid out as real hub exports (scripts/fixtures/hub-layouts.ts,
 * written to a temp folder and served beside the committed fixtures): a graph whose weights live in
 * model.onnx_data encodes exactly as the single-file tiny GPT-2, SAEs that read weights from the graph
 * (hook_z's value bias) included; a float16-only export loads where the adapter has shader-f16 and
 * agrees with float32 within float16's rounding.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startStaticServer, type StaticServer } from '../../../scripts/servers/static-server.ts';
import { writeHubLayouts } from '../../../scripts/fixtures/hub-layouts.ts';
import { errorCode, type SparseActivations } from '../../../src/lib/index.ts';
import { Engine } from '../../../workers/engine/engine.ts';
import { failure } from '../../support/async.ts';
import { relativeError } from '../../support/compare.ts';
import { createNodeRuntime, type NodeRuntimeOptions } from '../../support/node-runtime.ts';
import { FIXTURES, fixtureFiles, tokenRows } from '../../support/sae-fixtures.ts';

let server: StaticServer;
let layouts: string;
beforeAll(async () => {
  layouts = mkdtempSync(join(tmpdir(), 'autointerp-engine-layouts-'));
  writeHubLayouts(layouts);
  server = await startStaticServer([{ prefix: '/', root: [join(FIXTURES, 'hub'), layouts], hubLayout: true }]);
});
afterAll(async () => {
  await server?.close();
  rmSync(layouts, { recursive: true, force: true });
});

const SAES = ['saelens-hook-z', 'saelens-topk'] as const;
const ROWS = tokenRows(2, 12, 17);

async function engineOn(repo: string, options: NodeRuntimeOptions = {}): Promise<Engine> {
  const engine = new Engine(createNodeRuntime(options));
  await engine.loadModel({ repo: `autointerp-test/${repo}`, hubUrl: server.url });
  return engine;
}

async function encodeWith(engine: Engine, fixture: string): Promise<SparseActivations & { width: number }> {
  const opened = await engine.openSaeFiles(fixtureFiles(fixture).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
  const { spec } = await engine.selectSae(opened.choices[0]!.id);
  return { ...(await engine.encode(ROWS)), width: spec.width };
}

/** Per token, the dense activation vector of a sparse result. */
function dense(sparse: SparseActivations, width: number): Float32Array {
  const out = new Float32Array(sparse.tokens * width);
  for (let t = 0; t < sparse.tokens; t++) {
    for (let i = sparse.offsets[t]!; i < sparse.offsets[t + 1]!; i++) out[t * width + sparse.features[i]!] = sparse.values[i]!;
  }
  return out;
}

describe('tiny-gpt2-external (weights in onnx/model.onnx_data)', () => {
  let plain: Engine;
  let external: Engine;
  beforeAll(async () => {
    plain = await engineOn('tiny-gpt2');
    external = await engineOn('tiny-gpt2-external');
  });

  test('loads the graph and its data file, and counts both', async () => {
    const info = await external.loadModel({ repo: 'autointerp-test/tiny-gpt2-external', hubUrl: server.url });
    const dir = join(layouts, 'autointerp-test/tiny-gpt2-external/onnx');
    expect(info).toMatchObject({ onnxFile: 'onnx/model.onnx', dtype: 'fp32', nLayer: 3, dModel: 64 });
    expect(info.onnxBytes).toBe(statSync(join(dir, 'model.onnx')).size + statSync(join(dir, 'model.onnx_data')).size);
  });

  test.each(SAES)('%s encodes exactly as with the single-file model', async (fixture) => {
    const [expected, actual] = [await encodeWith(plain, fixture), await encodeWith(external, fixture)];
    expect(actual.features.length).toBeGreaterThan(ROWS.length * ROWS[0]!.length);
    expect(actual).toEqual(expected);
  });

  test('hook activations, logits and the full-model timing run with the data file too', async () => {
    expect(await external.hookActivations('blocks.1.attn.hook_z', ROWS)).toEqual(await plain.hookActivations('blocks.1.attn.hook_z', ROWS));
    expect(await external.logits(ROWS)).toEqual(await plain.logits(ROWS));
    expect((await external.time({ kind: 'full', rows: ROWS, repeats: 1 })).tokens).toBe(24);
  });
});

describe('tiny-gpt2-fp16-only (onnx/model_fp16.onnx), run in float16 by onnxruntime-node', () => {
  let plain: Engine;
  let half: Engine;
  beforeAll(async () => {
    plain = await engineOn('tiny-gpt2');
    half = await engineOn('tiny-gpt2-fp16-only', { features: ['shader-f16'] });
  });

  test('is refused without shader-f16, and loads as fp16 with it', async () => {
    const error = await failure(() => engineOn('tiny-gpt2-fp16-only'));
    expect(errorCode(error)).toBe('model/unsupported');
    const info = await half.loadModel({ repo: 'autointerp-test/tiny-gpt2-fp16-only', hubUrl: server.url });
    expect(info).toMatchObject({ onnxFile: 'onnx/model_fp16.onnx', dtype: 'fp16' });
  });

  test('hook activations come back float32, within 1e-2 of the float32 model', async () => {
    for (const hook of ['blocks.0.hook_resid_pre', 'blocks.1.attn.hook_z', 'blocks.2.hook_resid_post']) {
      const [a, b] = [await half.hookActivations(hook, ROWS), await plain.hookActivations(hook, ROWS)];
      expect(a.data, hook).toBeInstanceOf(Float32Array);
      expect(relativeError(a.data, b.data), hook).toBeLessThan(1e-2);
    }
  });

  test.each(SAES)('%s (a float32 encoder after the float16 model) agrees with float32 within 1e-2', async (fixture) => {
    const [a, b] = [await encodeWith(half, fixture), await encodeWith(plain, fixture)];
    expect(relativeError(dense(a, a.width), dense(b, b.width))).toBeLessThan(1e-2);
  });

  test('logits and the full-model timing run on the whole float16 export', async () => {
    const [a, b] = [await half.logits(ROWS), await plain.logits(ROWS)];
    expect(a.dims).toEqual(b.dims);
    expect(relativeError(a.data, b.data)).toBeLessThan(1e-2);
    expect((await half.time({ kind: 'full', rows: ROWS, repeats: 1 })).tokens).toBe(24);
  });
});
