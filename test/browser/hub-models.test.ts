/**
 * Real hub models, as their repos are really laid out: the current Optimum layout, the older
 * transformers.js one, weights stored beside the graph, and repos with nothing the engine can cut, all
 * served by a hub stand-in that answers like the hub (file list API, 401 for a missing repo, redirects
 * for large files). Each usable layout loads by hub id in the page and in `npm run cache`; decoys are
 * never downloaded; the browser keeps what it downloaded (a second load asks the hub for no file).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeHubLayouts } from '../../scripts/fixtures/hub-layouts.ts';
import { startStaticServer, type StaticServer } from '../../scripts/servers/static-server.ts';
import { FIXTURES } from '../support/sae-fixtures.ts';
import { appUrl, launch, saeUpload, type Browser } from './harness.ts';

let browser: Browser;
let hub: StaticServer;
let layouts: string;
beforeAll(async () => {
  layouts = mkdtempSync(join(tmpdir(), 'autointerp-hub-layouts-'));
  writeHubLayouts(layouts);
  hub = await startStaticServer([{ prefix: '/', root: [join(FIXTURES, 'hub'), layouts], hubLayout: true }]);
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
  rmSync(layouts, { recursive: true, force: true });
});

/** Files of the model repos asked for since `from`, without the API listing. */
const downloads = (from: number) => hub.requests.slice(from).filter((url) => /\/resolve\/|^\/lfs\//.test(url));
const DECOY = /_fp16|_quantized|_q4|_merged|with_past/;

/** Types a repo into the Model panel, waits for what it would load, loads it. */
async function load(repo: string): Promise<{ inspection: string; error?: string }> {
  const { page } = browser;
  await page.getByTestId('model-repo').fill(repo);
  const inspection = page.getByTestId('model-inspection');
  await expect.poll(async () => (await inspection.textContent().catch(() => '')) ?? '').not.toMatch(/^\s*$|Looking up/);
  const said = (await inspection.textContent())!;
  await page.getByTestId('model-load').click();
  await page.getByTestId('model-ready').or(page.getByTestId('model-error')).waitFor();
  const error = (await page.getByTestId('model-error').count()) ? (await page.getByTestId('model-error').textContent())! : undefined;
  return { inspection: said, ...(error ? { error } : {}) };
}

/** The activations of blocks.1.hook_resid_mid on a fixed row, through the engine the page uses. */
const hookActivations = () =>
  browser.page.evaluate(async () => Array.from((await (globalThis as any).autointerp.engine.hookActivations('blocks.1.hook_resid_mid', [[4096, 15496, 995, 11, 428]])).data as Float32Array));

test('each usable layout loads by hub id, takes the right file and never a decoy; the others say what they have and what is needed', async () => {
  const { page } = browser;
  await page.goto(appUrl({ hub: hub.url, model: 'autointerp-test/tiny-gpt2' }));
  await page.getByTestId('adapter-name').waitFor();
  let from = hub.requests.length;
  expect((await load('autointerp-test/tiny-gpt2')).error).toBeUndefined();
  const reference = await hookActivations();

  for (const [repo, file] of [['autointerp-test/tiny-gpt2-current', 'onnx/model.onnx'], ['autointerp-test/tiny-gpt2-legacy', 'onnx/decoder_model.onnx'], ['autointerp-test/tiny-gpt2-external', 'onnx/model.onnx + onnx/model.onnx_data']] as const) {
    from = hub.requests.length;
    const loaded = await load(repo);
    expect(loaded.error, repo).toBeUndefined();
    expect(loaded.inspection, repo).toContain(`Loads ${file} (`);
    expect(await page.getByTestId('model-ready').textContent(), repo).toContain(file.split(' + ')[0]);
    expect(downloads(from).filter((url) => DECOY.test(url)), repo).toEqual([]);
    expect(downloads(from).some((url) => url.includes(`/${repo}/resolve/main/${file.split(' + ')[0]}`)), repo).toBe(true);
    // The large file came through the hub's redirect, as from the real hub.
    expect(downloads(from).some((url) => url.startsWith(`/lfs/${repo}/`)), repo).toBe(true);
    expect(await hookActivations(), repo).toEqual(reference);
  }

  const merged = await load('autointerp-test/tiny-gpt2-merged-only');
  expect(merged.inspection).toMatch(/has no ONNX file the engine can cut\. It has: onnx\/decoder_model_merged\.onnx, onnx\/decoder_model_merged_quantized\.onnx\. The engine needs a single-graph float32 export/);
  expect(merged.error).toMatch(/has no ONNX file the engine can cut/);
  const fp16 = await load('autointerp-test/tiny-gpt2-fp16-only');
  expect(fp16.error).toMatch(/has only a float16 export \(onnx\/model_fp16\.onnx\), and this GPU adapter has no shader-f16/);
  const missing = await load('autointerp-test/no-such-model');
  expect(missing.error).toMatch(/answered HTTP 401: the model repo "autointerp-test\/no-such-model" does not exist, or it is private or gated/);
  expect(downloads(0).filter((url) => DECOY.test(url))).toEqual([]);
});

test('the browser keeps a downloaded model: of two loads only the first downloads, and freeing the space makes it download again', async () => {
  const { page } = browser;
  await page.goto(appUrl({ hub: hub.url, model: 'autointerp-test/tiny-gpt2-current' }));
  await page.getByTestId('adapter-name').waitFor();
  const graph = '/lfs/autointerp-test/tiny-gpt2-current/onnx/model.onnx';
  const graphDownloads = (from: number) => hub.requests.slice(from).filter((url) => url === graph).length;
  const kept = page.getByTestId('model-storage');
  // The first test left files in this browser: free them so this test starts from an empty store.
  expect(await kept.textContent()).toMatch(/Downloaded model files kept by this browser: [\d.]+ (kB|MB) in \d+ files/);
  await page.getByTestId('model-storage-clear').click();
  await expect.poll(() => kept.count()).toBe(0);

  const start = hub.requests.length;
  expect((await load('autointerp-test/tiny-gpt2-current')).error).toBeUndefined();
  expect(graphDownloads(start)).toBe(1);
  const second = hub.requests.length;
  expect((await load('autointerp-test/tiny-gpt2-current')).error).toBeUndefined();
  expect(graphDownloads(second)).toBe(0);
  expect(await kept.textContent()).toMatch(/Downloaded model files kept by this browser: [\d.]+ (kB|MB) in \d+ files/);
  await page.getByTestId('model-storage-clear').click();
  await expect.poll(() => kept.count()).toBe(0);
  const cleared = hub.requests.length;
  expect((await load('autointerp-test/tiny-gpt2-current')).error).toBeUndefined();
  expect(graphDownloads(cleared)).toBe(1);
});

test('an SAE whose config names another model of the same size is shown with a warning before it runs', async () => {
  const { page } = browser;
  const files = saeUpload('saelens-topk').map((f) => (f.name === 'cfg.json' ? { ...f, buffer: Buffer.from(f.buffer.toString().replace('"model_name": "tiny-gpt2"', '"model_name": "gpt2-medium"')) } : f));
  await page.getByTestId('sae-files').setInputFiles(files);
  await page.getByTestId('sae-model-warning').waitFor();
  expect(await page.getByTestId('sae-model-warning').textContent()).toMatch(/trained on gpt2-medium, and the model loaded is autointerp-test\/tiny-gpt2-current/);
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-warning').waitFor();
});

const runCacheCli = (repo: string, out: string) =>
  // Asynchronously: the hub stand-in answers from this process, so blocking it would hang the CLI.
  promisify(execFile)('npx', ['tsx', 'scripts/cache-cli.ts', '--model', repo, '--hub', hub.url, '--sae', join(FIXTURES, 'sae/saelens-topk'), '--dataset', join(FIXTURES, 'corpus/paragraphs.txt'), '--tokens', '512', '--ctx', '32', '--splits', '2', '--out', out], { cwd: resolve(import.meta.dirname, '../..'), encoding: 'utf8' });

test('npm run cache loads each usable layout by hub id from the stand-in, and refuses a merged-only repo saying why', async () => {
  const out = mkdtempSync(join(tmpdir(), 'autointerp-cli-hub-'));
  try {
    for (const repo of ['autointerp-test/tiny-gpt2-current', 'autointerp-test/tiny-gpt2-legacy', 'autointerp-test/tiny-gpt2-external']) {
      const from = hub.requests.length;
      rmSync(join(out, 'blocks.2.hook_resid_post'), { recursive: true, force: true });
      const { stdout } = await runCacheCli(repo, out);
      expect(stdout).toContain(`model: ${repo} (3 layers`);
      expect(readdirSync(join(out, 'blocks.2.hook_resid_post')).sort(), repo).toEqual(['0_63.safetensors', '64_127.safetensors', 'config.json']);
      expect(downloads(from).filter((url) => DECOY.test(url)), repo).toEqual([]);
    }
    const refused = await runCacheCli('autointerp-test/tiny-gpt2-merged-only', out).then(() => undefined, (error: { stderr: string }) => error.stderr);
    expect(refused).toMatch(/has no ONNX file the engine can cut/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
