/**
 * The activation engine's speed in Chromium's WebGPU on GPT-2 small's real dimensions (12 layers,
 * d_model 768, vocabulary 50257; random weights generated here, std 0.02 as GPT-2 was initialised),
 * for each case of a preset (a layer, an SAE width, TopK or ReLU):
 *   (a) the full forward with logits, (b) the forward cut at the SAE's hook, (c) the cut forward + SAE
 *   encode + sparse read-back, each the median of its repeats (tokens/s); (c)/(b), the median over runs of
 *   (b) and (c) taken in turn, and (b)/(a); and the encoder's matrix product alone, which bounds (c)/(b)
 *   on a device bound by arithmetic: (b)'s time / ((b)'s time + the product's), `engine_bound_*`, with
 *   `engine_over_bound_*` the share of that speed (c) reaches (medians; the product is timed after the pairs).
 * For the preset's first case also the same rows cached end to end into IndexedDB, and the store's
 * bytes per non-zero and write speed on one full chunk.
 *
 * Figures are flat: `engine_tok_s_l6_topk_32768`, `cut_forward_tok_s_l6`, `engine_over_cut_l6_topk_32768`
 * and so on, and the first case's under the plain names (`engine_tok_s`, `cut_forward_tok_s`, ...).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGpt2Onnx, type Float32Weight } from '../scripts/fixtures/gpt2-onnx.ts';
import { launch } from '../scripts/chromium.ts';
import { startStaticServer } from '../scripts/servers/static-server.ts';
import { encodeSafetensors } from '../src/lib/formats/index.ts';
import { Prng } from '../src/lib/util/index.ts';

export const GPT2_SMALL = { model_type: 'gpt2', n_layer: 12, n_embd: 768, n_head: 12, n_inner: null, n_positions: 1024, vocab_size: 50257, layer_norm_epsilon: 1e-5, bos_token_id: 50256, eos_token_id: 50256 };
const REPO = 'bench/gpt2-small-random';
/** k of the TopK SAEs. */
export const SAE_K = 32;
/** ReLU SAEs: the bias that leaves about 1 in 400 pre-activations positive (unit-variance inputs): an L0 near real SAEs'. */
const RELU_BIAS = -2.8;

export interface EngineCase {
  layer: number;
  width: number;
  architecture: 'topk' | 'relu';
}

export interface EnginePreset {
  cases: EngineCase[];
  /** Rows per call, tokens per row, timed repeats after a warm-up. */
  rows: number;
  seq: number;
  repeats: number;
}

export const ENGINE_PRESETS: Readonly<Record<'quick' | 'full', EnginePreset>> = {
  // SwiftShader runs GPT-2 small at a few tokens per second: one case, one short row.
  quick: { cases: [{ layer: 6, width: 32768, architecture: 'topk' }], rows: 1, seq: 64, repeats: 3 },
  // For a real GPU: layers 0, 6 and 11, widths 24576 (GPT-2 small x 32), 32768 and 131072, TopK and ReLU, at ctx 256.
  full: {
    cases: [6, 0, 11].flatMap((layer) => [32768, 24576, 131072].flatMap((width) => (['topk', 'relu'] as const).map((architecture) => ({ layer, width, architecture })))),
    rows: 16,
    seq: 256,
    repeats: 5,
  },
};

export const hookOf = (layer: number): string => `blocks.${layer}.hook_resid_pre`;
export const caseName = (c: EngineCase): string => `l${c.layer}_${c.architecture}_${c.width}`;

/** GPT-2 small's shapes with random weights. Cached under `dir`. */
function writeModel(dir: string): void {
  if (existsSync(join(dir, 'onnx/model.onnx'))) return;
  console.log('generating a GPT-2-small-shaped model with random weights…');
  const prng = new Prng(12345);
  const d = GPT2_SMALL.n_embd;
  const weights = new Map<string, Float32Weight>();
  const add = (name: string, shape: number[], std: number, mean = 0) => weights.set(name, { shape, data: prng.normals(shape.reduce((a, b) => a * b, 1), std, mean) });
  add('transformer.wte.weight', [GPT2_SMALL.vocab_size, d], 0.02);
  add('transformer.wpe.weight', [GPT2_SMALL.n_positions, d], 0.01);
  for (let l = 0; l < GPT2_SMALL.n_layer; l++) {
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
  writeFileSync(join(dir, 'onnx/model.onnx'), buildGpt2Onnx(GPT2_SMALL, weights, 'autointerp-bench'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(GPT2_SMALL, null, 2));
}

/** Where a case's SAE weights are kept (TopK and ReLU differ in their encoder bias). */
const weightsDir = (cache: string, c: EngineCase): string => join(cache, 'sae', `${c.architecture}-${c.width}`);

/** An SAE's weights, 768 -> `width` (unit-norm encoder columns in expectation); ReLU's encoder bias is its threshold. */
function writeSaeWeights(dir: string, width: number, architecture: EngineCase['architecture']): void {
  if (existsSync(join(dir, 'sae_weights.safetensors'))) return;
  console.log(`generating a ${width}-wide ${architecture} SAE…`);
  const prng = new Prng(678 + width);
  const bias = architecture === 'relu' ? RELU_BIAS : 0;
  const d = GPT2_SMALL.n_embd;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'sae_weights.safetensors'), encodeSafetensors({
    W_enc: { dtype: 'F32', shape: [d, width], data: prng.normals(d * width, 1 / Math.sqrt(d)) },
    b_enc: { dtype: 'F32', shape: [width], data: prng.normals(width, 0.01, bias) },
    W_dec: { dtype: 'F32', shape: [width, d], data: prng.normals(width * d, 1 / Math.sqrt(d)) },
    b_dec: { dtype: 'F32', shape: [d], data: prng.normals(d, 0.01) },
  }));
}

/**
 * The case's SAELens cfg.json. ReLU SAEs scale their input to norm sqrt(d_in) (expected_average_only_in,
 * the scale estimated from the bench rows), so the pre-activations have unit variance and the negative
 * encoder bias leaves about 1 feature in 400 firing: an L0 like real SAEs', not half the width.
 */
function saeConfig(c: EngineCase): string {
  const common = { d_in: GPT2_SMALL.n_embd, d_sae: c.width, dtype: 'float32', apply_b_dec_to_input: true };
  const metadata = { sae_lens_version: '6.5.1', model_name: 'gpt2', hook_name: hookOf(c.layer), hook_head_index: null, prepend_bos: true, context_size: 256, model_from_pretrained_kwargs: { center_writing_weights: false } };
  return JSON.stringify(c.architecture === 'topk'
    ? { architecture: 'topk', k: SAE_K, normalize_activations: 'none', ...common, metadata }
    : { architecture: 'standard', activation_fn: 'relu', normalize_activations: 'expected_average_only_in', ...common, metadata });
}

export interface EngineFigures {
  figures: Record<string, number | string>;
  adapter: string;
}

export async function benchEngine(root: string, preset: EnginePreset): Promise<EngineFigures> {
  const cache = join(root, '.cache/bench');
  const modelDir = join(cache, 'hub', REPO);
  writeModel(modelDir);
  for (const c of preset.cases) writeSaeWeights(weightsDir(cache, c), c.width, c.architecture);
  if (!existsSync(join(root, 'dist/index.html')) || process.env.BENCH_BUILD !== '0') execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: root, stdio: 'inherit' });

  const app = await startStaticServer([{ prefix: '/', root: join(root, 'dist') }]);
  const hub = await startStaticServer([{ prefix: '/', root: join(cache, 'hub'), hubLayout: true }]);
  const saeSite = await startStaticServer([{ prefix: '/', root: join(cache, 'sae') }]);
  const browser = await launch();
  try {
    const { page } = browser;
    page.setDefaultTimeout(0);
    await page.goto(app.url);
    const { rows, seq, repeats } = preset;
    const tokenRows = Array.from({ length: rows }, (_, r) => [GPT2_SMALL.bos_token_id, ...Array.from({ length: seq - 1 }, (_, t) => (r * 7919 + t * 104729) % GPT2_SMALL.bos_token_id)]);
    const step = async <T>(label: string, action: () => Promise<T>): Promise<T> => {
      const start = Date.now();
      const value = await action();
      console.log(`${label}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
      return value;
    };
    const gpu = await page.evaluate(() => (globalThis as any).autointerp.engine.webgpu());
    const adapter = gpu.available ? `${gpu.vendor} ${gpu.architecture} ${gpu.description}`.trim() : 'none';
    await step('load model', () => page.evaluate(({ hub, repo }) => (globalThis as any).autointerp.engine.loadModel({ repo, hubUrl: hub }), { hub: hub.url, repo: REPO }));
    const time = (kind: string, hookName: string, options: { repeats?: number; warm?: boolean } = {}) => page.evaluate(({ kind, hookName, rows, repeats, warm }) => (globalThis as any).autointerp.engine.time({ kind, hookName, rows, repeats, warm }), { kind, hookName, rows: tokenRows, repeats: options.repeats ?? repeats, warm: options.warm ?? false }) as Promise<{ tokensPerSecond: number; repeats: number[] }>;
    /**
     * (b) and (c) run by run in turn, so that both see the same machine (a busy neighbour slows both, not
     * one): their ratio is the median of the per-pair ratios. Each kind is warmed up once first.
     */
    const alternate = async (hookName: string, timeCut: boolean): Promise<{ cut?: number; engine: number; product: number; ratio?: number }> => {
      const tokens = tokenRows.length * seq;
      const cuts: number[] = [];
      const engines: number[] = [];
      if (timeCut) await time('cut', hookName, { repeats: 0 });
      await time('engine', hookName, { repeats: 0 });
      for (let i = 0; i < repeats; i++) {
        if (timeCut) cuts.push((await time('cut', hookName, { repeats: 1, warm: true })).repeats[0]!);
        engines.push((await time('engine', hookName, { repeats: 1, warm: true })).repeats[0]!);
      }
      // The encoder's product alone (its own session: built, warmed up and timed in one call).
      const products = (await time('product', hookName)).repeats;
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      return {
        engine: tokens / median(engines),
        product: tokens / median(products),
        ...(timeCut ? { cut: tokens / median(cuts), ratio: median(cuts.map((c, i) => c / engines[i]!)) } : {}),
      };
    };
    const r = (value: number, digits = 1) => Number(value.toFixed(digits));

    const figures: Record<string, number | string> = {};
    const full = (await step('time (a) full forward', () => time('full', hookOf(0)))).tokensPerSecond;
    figures.full_forward_tok_s = r(full);
    const cut = new Map<number, number>();
    for (const [i, c] of preset.cases.entries()) {
      const hookName = hookOf(c.layer);
      await step(`load SAE ${caseName(c)}`, () => page.evaluate(async ({ base, cfg, overrides }) => {
        const { engine } = (globalThis as any).autointerp;
        const weights = await (await fetch(`${base}sae_weights.safetensors`)).blob();
        const opened = await engine.openSaeFiles([{ path: 'sae/cfg.json', blob: new Blob([cfg]) }, { path: 'sae/sae_weights.safetensors', blob: weights }]);
        const id = opened.choices[0].id;
        const scale = overrides.estimate ? await engine.estimateScale(id, overrides.rows, { hookName: overrides.hookName }) : undefined;
        await engine.selectSae(id, { overrides: { hookName: overrides.hookName, ...(scale !== undefined ? { normalizationScale: scale } : {}) } });
      }, { base: `${saeSite.url}${c.architecture}-${c.width}/`, cfg: saeConfig(c), overrides: { hookName, estimate: c.architecture === 'relu', rows: tokenRows.slice(0, 1) } }));
      const timeCut = !cut.has(c.layer);
      const timed = await step(`time ${timeCut ? `(b) cut at ${hookName} and ` : ''}(c) ${caseName(c)}, in turn`, () => alternate(hookName, timeCut));
      if (timed.cut !== undefined) {
        cut.set(c.layer, timed.cut);
        figures[`cut_forward_tok_s_l${c.layer}`] = r(timed.cut);
        figures[`cut_over_full_l${c.layer}`] = r(timed.cut / full, 3);
      }
      const engine = timed.engine;
      figures[`engine_tok_s_${caseName(c)}`] = r(engine);
      figures[`engine_over_cut_${caseName(c)}`] = r(timed.ratio ?? engine / cut.get(c.layer)!, 3);
      // The bound where arithmetic bounds the device: (c) can take no less than the cut forward plus the
      // encoder's product alone, per token. As a ratio to (b), and (c)'s share of that speed (medians).
      const boundTokS = 1 / (1 / cut.get(c.layer)! + 1 / timed.product);
      figures[`encoder_product_tok_s_${caseName(c)}`] = r(timed.product);
      figures[`engine_bound_${caseName(c)}`] = r(boundTokS / cut.get(c.layer)!, 3);
      figures[`engine_over_bound_${caseName(c)}`] = r(engine / boundTokS, 3);
      if (i > 0) continue;
      // The first case under the plain names, and the end-to-end cache run and the store with its SAE.
      figures.cut_forward_tok_s = figures[`cut_forward_tok_s_l${c.layer}`]!;
      figures.engine_tok_s = r(engine);
      figures.engine_over_cut = figures[`engine_over_cut_${caseName(c)}`]!;
      figures.engine_bound = figures[`engine_bound_${caseName(c)}`]!;
      figures.engine_over_bound = figures[`engine_over_bound_${caseName(c)}`]!;
      figures.cut_over_full = figures[`cut_over_full_l${c.layer}`]!;
      const cacheRun = await step('cache run into IndexedDB', () => page.evaluate(async (tokens) => {
        const { engine } = (globalThis as any).autointerp;
        const run = await engine.createCache({ tokens: Uint32Array.from(tokens.flat()), ctx: tokens[0].length, description: 'bench rows', seed: 0, maxTokens: tokens.flat().length });
        const start = performance.now();
        const done = await engine.runCache(run.id);
        const seconds = (performance.now() - start) / 1000;
        await engine.deleteCache(run.id);
        return { tokensPerSecond: (done.nRows * done.ctx) / seconds };
      }, tokenRows));
      figures.cache_tok_s = r(cacheRun.tokensPerSecond);
      figures.cache_over_engine = r(cacheRun.tokensPerSecond / engine, 3);
      const storage = await step('IndexedDB write', () => page.evaluate(({ width, k }) => (globalThis as any).autointerp.engine.timeStorage(width, k), { width: c.width, k: SAE_K }));
      figures.bytes_per_nonzero = r(storage.bytesPerNonzero, 3);
      figures.idb_write_mb_s = r(storage.mbPerSecond);
    }
    Object.assign(figures, {
      engine_workload: `GPT-2 small shape (random weights), ${rows} x ${seq} tokens a call, median of ${repeats} repeats; first case ${caseName(preset.cases[0]!)} at ${hookOf(preset.cases[0]!.layer)}`,
      engine_rows: rows,
      engine_seq: seq,
      engine_repeats: repeats,
    });
    return { figures, adapter };
  } finally {
    await browser.close();
    await Promise.all([app.close(), hub.close(), saeSite.close()]);
  }
}
