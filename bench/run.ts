/**
 * `npm run bench`: speed of the activation engine in Chromium's WebGPU, on GPT-2-small-shaped work
 * (12 layers, d_model 768, vocabulary 50257; random weights generated here) with a 32768-wide TopK
 * SAE at blocks.6.hook_resid_pre. Reports tokens/s of (a) the full forward, (b) the forward cut at the
 * hook point, (c) cut forward + SAE encode + sparse read-back, the same rows cached end to end into
 * IndexedDB, the store's bytes per non-zero and write speed on one full chunk; writes bench/results.json.
 *
 * Then, in Node, the feature-records stage over a 1M-token cache of that SAE's shape (synthetic TopK
 * activations in memory): the statistics pass (non-zeros per second) and every feature's record.
 *
 *   npm run bench                     # SwiftShader (CPU WebGPU), as everywhere here
 *   WEBGPU_ADAPTER=gpu npm run bench  # the machine's real GPU (Chromium's default adapter)
 *   BENCH_ROWS=4 BENCH_SEQ=128 BENCH_REPEATS=3 npm run bench
 * And the explain stage against the LLM stand-in (bench/llm-concurrency.ts): how busy it keeps the
 * endpoint at a concurrency of 8 with 200 ms per request, and the prompt tokens a feature takes to
 * explain and to score with each scorer (bench/scorers.ts).
 *
 *   npm run bench -- --only records   # one part only (engine: Chromium; records, llm: Node); the other
 *                                     # part's figures in bench/results.json are kept
 *   npx tsx bench/run.ts --only records  # the same without the first-run check for Chromium
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeSafetensors } from '../src/lib/formats/index.ts';
import { buildGpt2Onnx, type Float32Weight } from '../scripts/fixtures/gpt2-onnx.ts';
import { Prng } from '../src/lib/util/index.ts';
import { computeFeatureStats, forEachFeatureRecord, memoryCacheReader, syntheticTokens, syntheticTopK } from '../src/lib/index.ts';
import { launch } from '../scripts/chromium.ts';
import { benchLlmConcurrency } from './llm-concurrency.ts';
import { benchScorers } from './scorers.ts';
import { benchFeaturesTable } from './table.ts';
import { startStaticServer } from '../scripts/servers/static-server.ts';

const root = resolve(import.meta.dirname, '..');
const cache = join(root, '.cache/bench');
const REPO = 'bench/gpt2-small-random';
const CONFIG = { model_type: 'gpt2', n_layer: 12, n_embd: 768, n_head: 12, n_inner: null, n_positions: 1024, vocab_size: 50257, layer_norm_epsilon: 1e-5, bos_token_id: 50256, eos_token_id: 50256 };
const HOOK = 'blocks.6.hook_resid_pre';
const SAE_WIDTH = 32768;
const SAE_K = 32;
// Small defaults: SwiftShader (WebGPU on the CPU) runs GPT-2 small at tens of tokens per second.
const rows = Number(process.env.BENCH_ROWS ?? 1);
const seq = Number(process.env.BENCH_SEQ ?? 64);
const repeats = Number(process.env.BENCH_REPEATS ?? 2);

/** GPT-2 small's shapes with random weights (std 0.02, as GPT-2 was initialised). Cached in .cache/bench. */
function writeModel(dir: string): void {
  if (existsSync(join(dir, 'onnx/model.onnx'))) return;
  console.log('generating a GPT-2-small-shaped model with random weights…');
  const prng = new Prng(12345);
  const d = CONFIG.n_embd;
  const weights = new Map<string, Float32Weight>();
  const add = (name: string, shape: number[], std: number, mean = 0) => weights.set(name, { shape, data: prng.normals(shape.reduce((a, b) => a * b, 1), std, mean) });
  add('transformer.wte.weight', [CONFIG.vocab_size, d], 0.02);
  add('transformer.wpe.weight', [CONFIG.n_positions, d], 0.01);
  for (let l = 0; l < CONFIG.n_layer; l++) {
    const p = `transformer.h.${l}`;
    add(`${p}.ln_1.weight`, [d], 0.02, 1);
    add(`${p}.ln_1.bias`, [d], 0.02);
    add(`${p}.attn.c_attn.weight`, [d, 3 * d], 0.02);
    add(`${p}.attn.c_attn.bias`, [3 * d], 0.02);
    add(`${p}.attn.c_proj.weight`, [d, d], 0.02);
    add(`${p}.attn.c_proj.bias`, [d], 0.02);
    add(`${p}.ln_2.weight`, [d], 0.02, 1);
    add(`${p}.ln_2.bias`, [d], 0.02);
    add(`${p}.mlp.c_fc.weight`, [d, 4 * d], 0.02);
    add(`${p}.mlp.c_fc.bias`, [4 * d], 0.02);
    add(`${p}.mlp.c_proj.weight`, [4 * d, d], 0.02);
    add(`${p}.mlp.c_proj.bias`, [d], 0.02);
  }
  add('transformer.ln_f.weight', [d], 0.02, 1);
  add('transformer.ln_f.bias', [d], 0.02);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx/model.onnx'), buildGpt2Onnx(CONFIG, weights, 'autointerp-bench'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG, null, 2));
}

/** A SAELens TopK SAE, 768 -> 32768, k 32, in a folder as SAELens writes it. */
function writeSae(dir: string): void {
  if (existsSync(join(dir, 'sae_weights.safetensors'))) return;
  console.log('generating a 32768-wide TopK SAE…');
  const prng = new Prng(678);
  const d = CONFIG.n_embd;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'sae_weights.safetensors'), encodeSafetensors({
    W_enc: { dtype: 'F32', shape: [d, SAE_WIDTH], data: prng.normals(d * SAE_WIDTH, 1 / Math.sqrt(d)) },
    b_enc: { dtype: 'F32', shape: [SAE_WIDTH], data: prng.normals(SAE_WIDTH, 0.01) },
    W_dec: { dtype: 'F32', shape: [SAE_WIDTH, d], data: prng.normals(SAE_WIDTH * d, 1 / Math.sqrt(d)) },
    b_dec: { dtype: 'F32', shape: [d], data: prng.normals(d, 0.01) },
  }));
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify({
    architecture: 'topk', d_in: d, d_sae: SAE_WIDTH, k: SAE_K, dtype: 'float32', apply_b_dec_to_input: true, normalize_activations: 'none',
    metadata: { sae_lens_version: '6.5.1', model_name: 'gpt2', hook_name: HOOK, hook_head_index: null, prepend_bos: true, context_size: 128, model_from_pretrained_kwargs: { center_writing_weights: false } },
  }, null, 2));
}

/** The activation engine in Chromium: (a), (b), (c), the cache run and the store. */
async function engineBench(): Promise<Record<string, unknown>> {
  const modelDir = join(cache, 'hub', REPO);
  const saeDir = join(cache, 'sae');
  writeModel(modelDir);
  writeSae(saeDir);
  if (!existsSync(join(root, 'dist/index.html')) || process.env.BENCH_BUILD !== '0') execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: root, stdio: 'inherit' });

  const app = await startStaticServer([{ prefix: '/', root: join(root, 'dist') }]);
  const hub = await startStaticServer([{ prefix: '/', root: join(cache, 'hub'), hubLayout: true }]);
  const saeSite = await startStaticServer([{ prefix: '/', root: saeDir }]);
  const browser = await launch();
  try {
    const { page } = browser;
    page.setDefaultTimeout(0);
    await page.goto(app.url);
    const tokenRows = Array.from({ length: rows }, (_, r) => [50256, ...Array.from({ length: seq - 1 }, (_, t) => (r * 7919 + t * 104729) % 50256)]);
    const step = async <T>(label: string, action: () => Promise<T>): Promise<T> => {
      const start = Date.now();
      const value = await action();
      console.log(`${label}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
      return value;
    };
    const gpu = await page.evaluate(() => (globalThis as any).autointerp.engine.webgpu());
    await step('load model', () => page.evaluate(({ hub, repo }) => (globalThis as any).autointerp.engine.loadModel({ repo, hubUrl: hub }), { hub: hub.url, repo: REPO }));
    await step('load SAE', () => page.evaluate(async (sae) => {
      const { engine } = (globalThis as any).autointerp;
      const files = await Promise.all(['cfg.json', 'sae_weights.safetensors'].map(async (name) => ({ path: `sae/${name}`, blob: await (await fetch(sae + name)).blob() })));
      const opened = await engine.openSaeFiles(files);
      await engine.selectSae(opened.choices[0].id);
    }, saeSite.url));
    const time = (kind: string) => step(`time ${kind}`, () => page.evaluate(({ kind, hook, rows, repeats }) => (globalThis as any).autointerp.engine.time({ kind, hookName: hook, rows, repeats }), { kind, hook: HOOK, rows: tokenRows, repeats }));
    const result = { gpu, full: await time('full'), cut: await time('cut'), encode: await time('engine') };
    // End to end: the same rows through the cache runner into IndexedDB (tokens/s over the whole run).
    const cacheRun = await step('cache run', () => page.evaluate(async (tokens) => {
      const { engine } = (globalThis as any).autointerp;
      const run = await engine.createCache({ tokens: Uint32Array.from(tokens.flat()), ctx: tokens[0].length, description: 'bench rows', seed: 0, maxTokens: tokens.flat().length });
      const start = performance.now();
      const done = await engine.runCache(run.id);
      const seconds = (performance.now() - start) / 1000;
      await engine.deleteCache(run.id);
      return { tokensPerSecond: (done.nRows * done.ctx) / seconds };
    }, tokenRows));
    const storage = await step('IndexedDB write', () => page.evaluate(({ width, k }) => (globalThis as any).autointerp.engine.timeStorage(width, k), { width: SAE_WIDTH, k: SAE_K }));
    const adapter = result.gpu.available ? `${result.gpu.vendor} ${result.gpu.architecture} ${result.gpu.description}`.trim() : 'none';
    const figures = {
      full_forward_tok_s: round(result.full.tokensPerSecond),
      cut_forward_tok_s: round(result.cut.tokensPerSecond),
      engine_tok_s: round(result.encode.tokensPerSecond),
      adapter,
      cache_tok_s: round(cacheRun.tokensPerSecond),
      bytes_per_nonzero: round(storage.bytesPerNonzero, 3),
      idb_write_mb_s: round(storage.mbPerSecond),
      engine_over_cut: round(result.encode.tokensPerSecond / result.cut.tokensPerSecond, 3),
      cut_over_full: round(result.cut.tokensPerSecond / result.full.tokensPerSecond, 3),
      workload: { model: 'GPT-2 small shape, random weights', hook: HOOK, sae: `SAELens TopK ${SAE_WIDTH} x 768, k ${SAE_K}`, rows, seq, repeats },
      measured_at: new Date().toISOString(),
    };
    console.table({
      '(a) full forward tok/s': figures.full_forward_tok_s,
      '(b) cut at hook tok/s': figures.cut_forward_tok_s,
      '(c) cut + SAE + read-back tok/s': figures.engine_tok_s,
      'cache run into IndexedDB tok/s': figures.cache_tok_s,
      'bytes per stored non-zero (full chunk)': figures.bytes_per_nonzero,
      'IndexedDB write MB/s': figures.idb_write_mb_s,
    });
    console.log(`adapter: ${adapter}; (c)/(b) = ${figures.engine_over_cut}, (b)/(a) = ${figures.cut_over_full}`);
    return figures;
  } finally {
    await browser.close();
    await Promise.all([app.close(), hub.close(), saeSite.close()]);
  }
}

/**
 * The feature-records stage in Node: src/lib/latents/records is plain TypeScript, the same code the
 * interp worker runs in the browser, so V8 here gives the browser's figure without one. A 1M-token
 * cache (3907 rows x 256) of a 32768-wide TopK(32) SAE, synthetic activations held in memory (about
 * 1 GB with the reader's copy grouped by feature), rows starting with BOS. Building the synthetic data
 * is not timed. `BENCH_RECORD_ROWS` sets the rows.
 */
async function recordsBench(): Promise<Record<string, unknown>> {
  const rows = Number(process.env.BENCH_RECORD_ROWS ?? 3907);
  const ctx = 256;
  const nTokens = rows * ctx;
  let started = performance.now();
  const tokens = syntheticTokens(nTokens, CONFIG.vocab_size - 1, 4);
  for (let r = 0; r < rows; r++) tokens[r * ctx] = CONFIG.bos_token_id;
  const reader = memoryCacheReader({ tokens, ctx, width: SAE_WIDTH, activations: syntheticTopK(nTokens, SAE_K, SAE_WIDTH, 3), hook: HOOK, prependBos: true });
  console.log(`synthetic cache: ${nTokens} tokens, ${reader.nonZeros} non-zeros, built in ${((performance.now() - started) / 1000).toFixed(1)} s (not timed)`);
  // Best of two: the first pass also warms the JIT.
  let statsSeconds = Infinity;
  for (let pass = 0; pass < 2; pass++) {
    started = performance.now();
    await computeFeatureStats(reader);
    statsSeconds = Math.min(statsSeconds, (performance.now() - started) / 1000);
  }
  console.log(`feature statistics: ${statsSeconds.toFixed(2)} s`);
  started = performance.now();
  let built = 0;
  await forEachFeatureRecord(reader, { minExamples: 0 }, () => void built++);
  const recordsSeconds = (performance.now() - started) / 1000;
  console.log(`records of all ${built} features: ${recordsSeconds.toFixed(1)} s`);
  const figures = {
    stats_nonzeros_per_s: Math.round(reader.nonZeros / statsSeconds),
    records_all_features_s: round(recordsSeconds),
    records_workload: { where: `Node ${process.versions.node} (the worker's code)`, rows, ctx, width: SAE_WIDTH, k: SAE_K, non_zeros: reader.nonZeros, records: built, measured_at: new Date().toISOString() },
  };
  console.table({ 'feature statistics, non-zeros/s': figures.stats_nonzeros_per_s, 'records of every feature, s': figures.records_all_features_s });
  return figures;
}

const { values: args } = parseArgs({ options: { only: { type: 'string' } } });
if (args.only !== undefined && !['engine', 'records', 'llm', 'scorers', 'table'].includes(args.only)) {
  console.error(`--only: "${args.only}" is not one of engine, records, llm, scorers, table.`);
  process.exit(2);
}
const resultsFile = join(root, 'bench/results.json');
const previous = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {};
const figures = { ...previous };
const part = (name: string) => args.only === undefined || args.only === name;
if (part('engine')) Object.assign(figures, await engineBench());
if (part('records')) Object.assign(figures, await recordsBench());
if (part('llm')) Object.assign(figures, await benchLlmConcurrency());
if (part('scorers')) Object.assign(figures, await benchScorers());
if (part('table')) {
  if (!existsSync(join(root, 'dist/index.html')) || process.env.BENCH_BUILD !== '0') execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: root, stdio: 'inherit' });
  Object.assign(figures, await benchFeaturesTable(root, join(root, 'dist')));
}
writeFileSync(resultsFile, `${JSON.stringify(figures, null, 2)}\n`);
console.log('wrote bench/results.json');

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}
