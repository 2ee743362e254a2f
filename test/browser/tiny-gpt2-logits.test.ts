/**
 * The first end-to-end check of the GPU path: the engine worker loads the tiny GPT-2 from the hub
 * stand-in with transformers.js on the WebGPU backend (SwiftShader here), and its logits must match the
 * independent float64 reference forward over the same weights.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { SafetensorsReader } from '../../src/lib/formats/index.ts';
import { loadGpt2Weights, referenceForward, type Gpt2Config } from '../support/reference-gpt2.ts';
import { appUrl, hubUrl, launch, type Browser } from './harness.ts';

const REPO = 'autointerp-test/tiny-gpt2';
const fixture = resolve(import.meta.dirname, '../fixtures/hub', REPO);

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

test('tiny GPT-2 on WebGPU in the worker matches the reference forward', async () => {
  const { page } = browser;
  await page.goto(appUrl());
  const hub = hubUrl();
  const rows = [
    [4096, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198, 40, 1101, 257, 1332],
    [4096, 15496, 995, 11, 428, 318, 257, 1402, 2746],
  ].map((row) => row.map((id) => (id < 4097 ? id : id % 4096)));

  const result = await page.evaluate(
    async ({ hub, repo, rows }) => {
      const { engine } = (globalThis as any).autointerp;
      const model = await engine.loadModel({ repo, hubUrl: hub });
      const logits = await engine.logits(rows);
      return { model, gpuDevice: await engine.gpuDevice(), dims: logits.dims, data: Array.from(logits.data as Float32Array) };
    },
    { hub, repo: REPO, rows },
  );
  expect(result.model).toMatchObject({ modelType: 'gpt2', nLayer: 3, dModel: 64, nHead: 4, vocabSize: 4097 });
  // onnxruntime's WebGPU backend created a device on SwiftShader: the forward ran as WebGPU compute.
  expect(result.gpuDevice?.toLowerCase()).toContain('swiftshader');

  const config = JSON.parse(readFileSync(resolve(fixture, 'config.json'), 'utf8')) as Gpt2Config;
  const weights = await loadGpt2Weights(SafetensorsReader.fromBytes(readFileSync(resolve(fixture, 'model.safetensors'))), config);
  const seq = Math.max(...rows.map((r) => r.length));
  const padded = rows.map((r) => [...r, ...Array(seq - r.length).fill(0)]);
  const mask = rows.map((r) => Array.from({ length: seq }, (_, t) => (t < r.length ? 1 : 0)));
  const reference = referenceForward(weights, padded, { attentionMask: mask });
  const vocab = config.vocab_size;
  expect(result.dims).toEqual([2, seq, vocab]);

  let scale = 0;
  let worst = 0;
  rows.forEach((row, b) => {
    for (let t = 0; t < row.length; t++) {
      for (let v = 0; v < vocab; v++) {
        const i = (b * seq + t) * vocab + v;
        scale = Math.max(scale, Math.abs(reference.logits![i]!));
        worst = Math.max(worst, Math.abs(result.data[i]! - reference.logits![i]!));
      }
    }
  });
  expect(scale).toBeGreaterThan(0.1); // non-trivial logits, or the comparison proves nothing
  expect(worst / scale).toBeLessThan(1e-4);

  // Everything came from our own origin or the hub stand-in: no CDN, no real hub.
  const hosts = new Set(browser.requests.filter((url) => /^https?:/.test(url)).map((url) => new URL(url).host));
  expect([...hosts].sort()).toEqual([new URL(appUrl()).host, new URL(hub).host].sort());
  expect(browser.requests).toContain(`${hub}${REPO}/resolve/main/onnx/model.onnx`);
  expect(browser.errors).toEqual([]);
});

test('the UI loads the bundled demo model with a progress bar that ends at 100%', async () => {
  const page = await browser.context.newPage();
  await page.goto(appUrl());
  await page.getByTestId('adapter-name').waitFor();
  await page.getByTestId('model-preset').selectOption({ label: 'Tiny GPT-2 (demo, bundled with this app)' });
  expect(await page.getByTestId('model-repo').inputValue()).toBe(REPO);
  await page.getByTestId('model-load').click();
  const ready = page.getByTestId('model-ready');
  await ready.waitFor();
  expect(await ready.textContent()).toMatch(/3 layers,\s+d_model 64, 4 heads, vocabulary 4,097/);
  // The download fraction the UI computed from the worker's progress events reached the end.
  const fraction = await page.evaluate(() => (globalThis as any).autointerp.state.downloadFraction);
  expect(fraction).toBe(1);
  await page.close();
});
