import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError, errorCode } from '../../../src/lib/errors.ts';
import { encodeSafetensors, SafetensorsReader, type TensorToWrite } from '../../../src/lib/formats/index.ts';
import { Prng } from '../../../src/lib/util/index.ts';
import {
  expectedGpt2Tensors,
  geluNew,
  HOOK_NAMES,
  hookPointName,
  hookWidth,
  loadGpt2Weights,
  referenceForward,
  type Gpt2Config,
  type Gpt2Weights,
  type HookName,
} from '../../support/reference-gpt2.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Uniform in (0, 1) from the project's one seeded generator. */
function rng(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.uniform();
}

/** Random GPT-2 weights: matrices ~ U(-1, 1) / sqrt(fan_in), LayerNorm weights near 1, small biases. */
function randomWeights(config: Gpt2Config, seed: number): Gpt2Weights {
  const random = rng(seed);
  const u = () => 2 * random() - 1;
  const tensors = new Map<string, Float64Array>();
  for (const [name, shape] of expectedGpt2Tensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float64Array(n);
    const isLnWeight = /ln_\w+\.weight$/.test(name);
    const isEmbedding = /w[tp]e\.weight$/.test(name);
    const scale = isEmbedding ? 1 : shape.length === 2 ? 1 / Math.sqrt(shape[0]!) : 0.2;
    for (let i = 0; i < n; i++) values[i] = isLnWeight ? 1 + 0.2 * u() : scale * u();
    tensors.set(name, values);
  }
  return { config, tensors };
}

function randomIds(config: Gpt2Config, batch: number, seq: number, seed: number): number[][] {
  const random = rng(seed);
  return Array.from({ length: batch }, () => Array.from({ length: seq }, () => Math.floor(random() * config.vocab_size)));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i]! - b[i]!);
    if (!(diff <= max)) max = diff; // also catches NaN
  }
  return max;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tolerance = 1e-12): void {
  expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(tolerance);
}

/** Positions [t0, t1) of row b of a [batch, seq, width] tensor. */
function slice(x: Float64Array, seq: number, width: number, b: number, t0: number, t1: number): Float64Array {
  return x.subarray((b * seq + t0) * width, (b * seq + t1) * width);
}

const hook = (result: { hooks: Map<string, Float64Array> }, layer: number, name: HookName): Float64Array => {
  const value = result.hooks.get(hookPointName(layer, name));
  if (!value) throw new Error(`missing hook ${hookPointName(layer, name)}`);
  return value;
};

const SMALL: Gpt2Config = { n_layer: 3, n_head: 2, n_embd: 8, n_positions: 16, vocab_size: 13, n_inner: 12, layer_norm_epsilon: 1e-5 };

// ---------------------------------------------------------------------------------------------
// An independent scalar GPT-2, written differently on purpose: nested number arrays, per-head weight
// slicing, an explicit -Infinity causal mask, no shared helpers with the implementation under test.

interface ScalarResult {
  hooks: Map<string, number[][]>; // name -> [seq][width]
  logits: number[][];
}

function scalarForward(weights: Gpt2Weights, ids: number[], mask?: number[]): ScalarResult {
  const cfg = weights.config;
  const d = cfg.n_embd;
  const H = cfg.n_head;
  const dh = d / H;
  const inner = cfg.n_inner ?? 4 * d;
  const eps = cfg.layer_norm_epsilon ?? 1e-5;
  const T = ids.length;
  const W = (name: string) => weights.tensors.get(name)!;
  const at = (m: Float64Array, cols: number, r: number, c: number) => m[r * cols + c]!;

  const ln = (v: number[], g: Float64Array, bias: Float64Array) => {
    const mu = v.reduce((s, x) => s + x, 0) / v.length;
    const variance = v.reduce((s, x) => s + (x - mu) ** 2, 0) / v.length;
    return v.map((x, i) => ((x - mu) / Math.sqrt(variance + eps)) * g[i]! + bias[i]!);
  };
  const conv1d = (v: number[], w: Float64Array, bias: Float64Array, outDim: number) => {
    const out: number[] = [];
    for (let j = 0; j < outDim; j++) {
      let s = 0;
      for (let i = 0; i < v.length; i++) s += v[i]! * at(w, outDim, i, j);
      out.push(s + bias[j]!);
    }
    return out;
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * Math.pow(x, 3))));

  const hooks = new Map<string, number[][]>();
  let resid: number[][] = ids.map((id, t) => Array.from({ length: d }, (_, i) => at(W('transformer.wte.weight'), d, id, i) + at(W('transformer.wpe.weight'), d, t, i)));
  for (let l = 0; l < cfg.n_layer; l++) {
    const p = `transformer.h.${l}.`;
    hooks.set(hookPointName(l, 'hook_resid_pre'), resid);
    const qkv = resid.map((v) => conv1d(ln(v, W(`${p}ln_1.weight`), W(`${p}ln_1.bias`)), W(`${p}attn.c_attn.weight`), W(`${p}attn.c_attn.bias`), 3 * d));
    const z: number[][] = Array.from({ length: T }, () => []);
    for (let h = 0; h < H; h++) {
      const q = qkv.map((r) => r.slice(h * dh, (h + 1) * dh));
      const k = qkv.map((r) => r.slice(d + h * dh, d + (h + 1) * dh));
      const v = qkv.map((r) => r.slice(2 * d + h * dh, 2 * d + (h + 1) * dh));
      for (let i = 0; i < T; i++) {
        const scores = k.map((kj, j) => (j > i || (mask && mask[j] === 0) ? -Infinity : q[i]!.reduce((s, qe, e) => s + qe * kj[e]!, 0) / Math.sqrt(dh)));
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const total = e.reduce((a, b) => a + b, 0);
        const probs = e.map((x) => x / total);
        for (let c = 0; c < dh; c++) z[i]!.push(probs.reduce((s, pj, j) => s + pj * v[j]![c]!, 0));
      }
    }
    hooks.set(hookPointName(l, 'attn.hook_z'), z);
    const attnOut = z.map((zi) => conv1d(zi, W(`${p}attn.c_proj.weight`), W(`${p}attn.c_proj.bias`), d));
    hooks.set(hookPointName(l, 'hook_attn_out'), attnOut);
    const mid = resid.map((r, t) => r.map((x, i) => x + attnOut[t]![i]!));
    hooks.set(hookPointName(l, 'hook_resid_mid'), mid);
    const post = mid.map((r) => conv1d(ln(r, W(`${p}ln_2.weight`), W(`${p}ln_2.bias`)), W(`${p}mlp.c_fc.weight`), W(`${p}mlp.c_fc.bias`), inner).map(gelu));
    hooks.set(hookPointName(l, 'mlp.hook_post'), post);
    const mlpOut = post.map((r) => conv1d(r, W(`${p}mlp.c_proj.weight`), W(`${p}mlp.c_proj.bias`), d));
    hooks.set(hookPointName(l, 'hook_mlp_out'), mlpOut);
    resid = mid.map((r, t) => r.map((x, i) => x + mlpOut[t]![i]!));
    hooks.set(hookPointName(l, 'hook_resid_post'), resid);
  }
  const wte = W('transformer.wte.weight');
  const logits = resid.map((r) => {
    const f = ln(r, W('transformer.ln_f.weight'), W('transformer.ln_f.bias'));
    return Array.from({ length: cfg.vocab_size }, (_, v) => f.reduce((s, x, i) => s + x * at(wte, d, v, i), 0));
  });
  return { hooks, logits };
}

// ---------------------------------------------------------------------------------------------

describe('geluNew', () => {
  it('matches the tanh approximation at known values (mpmath, 40 digits)', () => {
    const known: [number, number][] = [
      [0, 0],
      [1, 0.8411919906082767047819958],
      [-1, -0.1588080093917232952180042],
      [0.5, 0.3457140098251439220377573],
      [2, 1.954597694087775018781041],
      [-3, -0.003637392081773018837816466],
      [3, 2.996362607918226981162184],
      [10, 10],
    ];
    for (const [x, y] of known) expect(Math.abs(geluNew(x) - y)).toBeLessThanOrEqual(4e-16 * Math.max(1, Math.abs(y)));
    expect(Math.abs(geluNew(-10))).toBeLessThan(1e-30);
  });
});

describe('hook names and widths', () => {
  it('uses TransformerLens names', () => {
    expect(hookPointName(3, 'hook_resid_pre')).toBe('blocks.3.hook_resid_pre');
    expect(hookPointName(3, 'mlp.hook_post')).toBe('blocks.3.mlp.hook_post');
    expect(hookPointName(0, 'attn.hook_z')).toBe('blocks.0.attn.hook_z');
  });
  it('gives d_model, the MLP width and n_head * d_head', () => {
    const gpt2: Gpt2Config = { n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 };
    expect(hookWidth(gpt2, 'hook_resid_post')).toBe(768);
    expect(hookWidth(gpt2, 'hook_attn_out')).toBe(768);
    expect(hookWidth(gpt2, 'mlp.hook_post')).toBe(3072);
    expect(hookWidth({ ...gpt2, n_inner: null }, 'mlp.hook_post')).toBe(3072);
    expect(hookWidth(gpt2, 'attn.hook_z')).toBe(768);
    expect(hookWidth(SMALL, 'mlp.hook_post')).toBe(12);
  });
});

describe('referenceForward: hand-computed 1-layer model', () => {
  // d = 2, one head, vocab 3. Attention and MLP-in weights are zero, so every attention row is uniform
  // over constant values (z = b_V) and the MLP sees only its bias: everything can be worked out by hand.
  const config: Gpt2Config = { n_layer: 1, n_head: 1, n_embd: 2, n_positions: 4, vocab_size: 3, layer_norm_epsilon: 1e-5 };
  const t = (...values: number[]) => Float64Array.from(values);
  const mlpProj = new Float64Array(16);
  mlpProj[0] = 1; // row 0 -> output 0
  mlpProj[3] = 1; // row 1 -> output 1
  const weights: Gpt2Weights = {
    config,
    tensors: new Map([
      ['transformer.wte.weight', t(1, 0, 0, 1, 1, -1)],
      ['transformer.wpe.weight', t(0, 0, 0.5, 0, 0, -0.25, 0, 0)],
      ['transformer.h.0.ln_1.weight', t(1, 1)],
      ['transformer.h.0.ln_1.bias', t(0, 0)],
      ['transformer.h.0.attn.c_attn.weight', new Float64Array(12)],
      ['transformer.h.0.attn.c_attn.bias', t(0, 0, 0, 0, 1, 2)], // q | k | v, b_V = [1, 2]
      ['transformer.h.0.attn.c_proj.weight', t(2, 0, 0, 1)],
      ['transformer.h.0.attn.c_proj.bias', t(0, 0.5)],
      ['transformer.h.0.ln_2.weight', t(1, 1)],
      ['transformer.h.0.ln_2.bias', t(0, 0)],
      ['transformer.h.0.mlp.c_fc.weight', new Float64Array(16)],
      ['transformer.h.0.mlp.c_fc.bias', t(1, -1, 0.5, 2, -3, 3, 0, 0)],
      ['transformer.h.0.mlp.c_proj.weight', mlpProj],
      ['transformer.h.0.mlp.c_proj.bias', t(0, 0)],
      ['transformer.ln_f.weight', t(2, 1)],
      ['transformer.ln_f.bias', t(0.1, 0)],
    ]),
  };
  const g1 = 0.8411919906082767047819958;
  const gm1 = -0.1588080093917232952180042;

  it('matches the hand computation to 1e-12', () => {
    const ids = [[0, 2, 1]];
    const result = referenceForward(weights, ids);
    const embeddings = [
      [1, 0], // token 0 + position 0
      [1.5, -1], // token 2 + position 1
      [0, 0.75], // token 1 + position 2
    ];
    expectClose(hook(result, 0, 'hook_resid_pre'), embeddings.flat());
    expectClose(hook(result, 0, 'attn.hook_z'), [1, 2, 1, 2, 1, 2]);
    expectClose(hook(result, 0, 'hook_attn_out'), [2, 2.5, 2, 2.5, 2, 2.5]); // [1, 2] @ diag(2, 1) + [0, 0.5]
    expectClose(hook(result, 0, 'hook_resid_mid'), embeddings.flatMap(([a, b]) => [a! + 2, b! + 2.5]));
    const post = [g1, gm1, 0.3457140098251439220377573, 1.954597694087775018781041, -0.003637392081773018837816466, 2.996362607918226981162184, 0, 0];
    expectClose(hook(result, 0, 'mlp.hook_post'), [...post, ...post, ...post]);
    expectClose(hook(result, 0, 'hook_mlp_out'), [g1, gm1, g1, gm1, g1, gm1]);
    const residPost = embeddings.map(([a, b]) => [a! + 2 + g1, b! + 2.5 + gm1]);
    expectClose(hook(result, 0, 'hook_resid_post'), residPost.flat());
    // ln_f of [a, b]: centred [δ, -δ] with δ = (a - b) / 2, variance δ², so normalised [s, -s], s = δ / sqrt(δ² + eps);
    // times [2, 1] plus [0.1, 0] -> [2s + 0.1, -s]; logits against wte rows [1, 0], [0, 1], [1, -1].
    const expected = residPost.flatMap(([a, b]) => {
      const delta = (a! - b!) / 2;
      const s = delta / Math.sqrt(delta * delta + 1e-5);
      return [2 * s + 0.1, -s, 3 * s + 0.1];
    });
    expect(result.logits).toBeDefined();
    expectClose(result.logits!, expected);
    expect(result.batch).toBe(1);
    expect(result.seq).toBe(3);
  });

  it('transformerLens: centres residual writes, drops b_V from z, centres logits over the vocabulary', () => {
    const result = referenceForward(weights, [[0, 2, 1]], { transformerLens: true });
    expectClose(hook(result, 0, 'attn.hook_z'), [0, 0, 0, 0, 0, 0]);
    expectClose(hook(result, 0, 'hook_attn_out'), [-0.25, 0.25, -0.25, 0.25, -0.25, 0.25]);
    expectClose(hook(result, 0, 'hook_resid_pre'), [0.5, -0.5, 1.25, -1.25, -0.375, 0.375]);
  });
});

describe('referenceForward: against an independent scalar implementation', () => {
  it('matches every hook and the logits to 1e-12 (2 layers, 2 heads, n_inner 12)', () => {
    const config: Gpt2Config = { ...SMALL, n_layer: 2 };
    const weights = randomWeights(config, 1);
    const ids = randomIds(config, 2, 7, 2);
    const result = referenceForward(weights, ids);
    for (let b = 0; b < 2; b++) {
      const scalar = scalarForward(weights, ids[b]!);
      for (let l = 0; l < config.n_layer; l++) {
        for (const name of HOOK_NAMES) {
          const width = hookWidth(config, name);
          expectClose(slice(hook(result, l, name), 7, width, b, 0, 7), scalar.hooks.get(hookPointName(l, name))!.flat());
        }
      }
      expectClose(slice(result.logits!, 7, config.vocab_size, b, 0, 7), scalar.logits.flat());
    }
  });

  it('matches with an attention mask (right padding)', () => {
    const weights = randomWeights(SMALL, 3);
    const ids = randomIds(SMALL, 1, 6, 4);
    const mask = [1, 1, 1, 1, 0, 0];
    const result = referenceForward(weights, ids, { attentionMask: [mask] });
    const scalar = scalarForward(weights, ids[0]!, mask);
    for (let l = 0; l < SMALL.n_layer; l++) {
      for (const name of HOOK_NAMES) expectClose(hook(result, l, name), scalar.hooks.get(hookPointName(l, name))!.flat());
    }
    expectClose(result.logits!, scalar.logits.flat());
  });
});

describe('referenceForward: structural properties', () => {
  const weights = randomWeights(SMALL, 11);
  const ids = randomIds(SMALL, 3, 9, 12);
  const result = referenceForward(weights, ids);

  it('returns every hook of every layer with the right size, all finite', () => {
    expect(result.hooks.size).toBe(SMALL.n_layer * HOOK_NAMES.length);
    for (let l = 0; l < SMALL.n_layer; l++) {
      for (const name of HOOK_NAMES) {
        const value = hook(result, l, name);
        expect(value.length).toBe(3 * 9 * hookWidth(SMALL, name));
        expect(value.every(Number.isFinite)).toBe(true);
      }
    }
    expect(result.logits!.length).toBe(3 * 9 * SMALL.vocab_size);
    expect(result.logits!.every(Number.isFinite)).toBe(true);
  });

  it('resid_post(L) == resid_pre(L+1); resid_mid = resid_pre + attn_out; resid_post = resid_mid + mlp_out', () => {
    for (let l = 0; l < SMALL.n_layer; l++) {
      if (l + 1 < SMALL.n_layer) expect(Array.from(hook(result, l, 'hook_resid_post'))).toEqual(Array.from(hook(result, l + 1, 'hook_resid_pre')));
      const pre = hook(result, l, 'hook_resid_pre');
      const attn = hook(result, l, 'hook_attn_out');
      const mid = hook(result, l, 'hook_resid_mid');
      const mlp = hook(result, l, 'hook_mlp_out');
      const post = hook(result, l, 'hook_resid_post');
      expectClose(mid, pre.map((x, i) => x + attn[i]!), 1e-14);
      expectClose(post, mid.map((x, i) => x + mlp[i]!), 1e-14);
    }
    // Hooks are separate arrays: mutating one must not change another.
    expect(hook(result, 0, 'hook_resid_post')).not.toBe(hook(result, 1, 'hook_resid_pre'));
  });

  it('resid_pre(0) is the token plus position embedding', () => {
    const wte = weights.tensors.get('transformer.wte.weight')!;
    const wpe = weights.tensors.get('transformer.wpe.weight')!;
    const d = SMALL.n_embd;
    const expected = ids.flatMap((row) => row.flatMap((id, t) => Array.from({ length: d }, (_, i) => wte[id * d + i]! + wpe[t * d + i]!)));
    expect(Array.from(hook(result, 0, 'hook_resid_pre'))).toEqual(expected);
  });

  it('is causal: changing a later token leaves earlier positions unchanged', () => {
    const changed = ids.map((row) => row.slice());
    changed[1]![6] = (changed[1]![6]! + 1) % SMALL.vocab_size;
    const other = referenceForward(weights, changed);
    for (let l = 0; l < SMALL.n_layer; l++) {
      for (const name of HOOK_NAMES) {
        const width = hookWidth(SMALL, name);
        expect(Array.from(slice(hook(other, l, name), 9, width, 1, 0, 6))).toEqual(Array.from(slice(hook(result, l, name), 9, width, 1, 0, 6)));
        // ... and position 6 itself does change (the resid stream at least).
        if (name === 'hook_resid_pre') expect(maxAbsDiff(slice(hook(other, l, name), 9, width, 1, 6, 7), slice(hook(result, l, name), 9, width, 1, 6, 7))).toBeGreaterThan(1e-6);
      }
    }
    // Other rows are untouched.
    expect(Array.from(slice(other.logits!, 9, SMALL.vocab_size, 0, 0, 9))).toEqual(Array.from(slice(result.logits!, 9, SMALL.vocab_size, 0, 0, 9)));
  });

  it('computes each row independently of the others in the batch', () => {
    const alone = referenceForward(weights, [ids[2]!]);
    for (const name of HOOK_NAMES) {
      const width = hookWidth(SMALL, name);
      expectClose(hook(alone, 2, name), slice(hook(result, 2, name), 9, width, 2, 0, 9), 0);
    }
    expectClose(alone.logits!, slice(result.logits!, 9, SMALL.vocab_size, 2, 0, 9), 0);
  });

  it('ignores right padding: real positions of a padded row equal the unpadded row alone', () => {
    const short = ids[0]!.slice(0, 5);
    const padded = [[...short, 0, 0, 0, 0], ids[1]!];
    const mask = [[1, 1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1]];
    const batched = referenceForward(weights, padded, { attentionMask: mask });
    const alone = referenceForward(weights, [short]);
    for (let l = 0; l < SMALL.n_layer; l++) {
      for (const name of HOOK_NAMES) {
        const width = hookWidth(SMALL, name);
        expectClose(slice(hook(batched, l, name), 9, width, 0, 0, 5), hook(alone, l, name));
        expectClose(slice(hook(batched, l, name), 9, width, 1, 0, 9), slice(hook(result, l, name), 9, width, 1, 0, 9));
      }
    }
    expectClose(slice(batched.logits!, 9, SMALL.vocab_size, 0, 0, 5), alone.logits!);
    expect(batched.logits!.every(Number.isFinite)).toBe(true);
    // Padding is really masked: without the mask, padded keys are never attended by real positions
    // (causality), but with a pad in the middle of the row the mask must matter.
    const middle = [[...short.slice(0, 3), 0, ...short.slice(3)]];
    const masked = referenceForward(weights, middle, { attentionMask: [[1, 1, 1, 0, 1, 1]] });
    const unmasked = referenceForward(weights, middle);
    expect(maxAbsDiff(slice(hook(masked, 0, 'attn.hook_z'), 6, 8, 0, 4, 6), slice(hook(unmasked, 0, 'attn.hook_z'), 6, 8, 0, 4, 6))).toBeGreaterThan(1e-6);
  });

  it('an all-ones mask changes nothing', () => {
    const masked = referenceForward(weights, ids, { attentionMask: ids.map((row) => row.map(() => 1)) });
    expectClose(masked.logits!, result.logits!, 0);
  });

  it('stopAfterLayer: same early hooks, no later hooks, no logits', () => {
    const early = referenceForward(weights, ids, { stopAfterLayer: 1 });
    expect(early.logits).toBeUndefined();
    expect(early.hooks.size).toBe(2 * HOOK_NAMES.length);
    expect(early.hooks.has(hookPointName(2, 'hook_resid_pre'))).toBe(false);
    for (let l = 0; l <= 1; l++) {
      for (const name of HOOK_NAMES) expectClose(hook(early, l, name), hook(result, l, name), 0);
    }
    const last = referenceForward(weights, ids, { stopAfterLayer: SMALL.n_layer - 1 });
    expect(last.logits).toBeUndefined();
    expect(last.hooks.size).toBe(result.hooks.size);
    expect(() => referenceForward(weights, ids, { stopAfterLayer: SMALL.n_layer })).toThrow(/stopAfterLayer/);
    expect(() => referenceForward(weights, ids, { stopAfterLayer: -1 })).toThrow(/stopAfterLayer/);
  });

  it('transformerLens: centred residual hooks, z - b_V, unchanged mlp.hook_post, vocab-centred logits', () => {
    const tl = referenceForward(weights, ids, { transformerLens: true });
    const d = SMALL.n_embd;
    for (let l = 0; l < SMALL.n_layer; l++) {
      for (const name of ['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post', 'hook_attn_out', 'hook_mlp_out'] as const) {
        const hf = hook(result, l, name);
        const centred = hook(tl, l, name);
        for (let o = 0; o < hf.length; o += d) {
          let mean = 0;
          let tlMean = 0;
          for (let i = 0; i < d; i++) {
            mean += hf[o + i]! / d;
            tlMean += centred[o + i]! / d;
          }
          expect(Math.abs(tlMean)).toBeLessThan(1e-14);
          for (let i = 0; i < d; i++) expect(Math.abs(centred[o + i]! - (hf[o + i]! - mean))).toBeLessThan(1e-13);
        }
        expect(Math.abs(hf[0]! - centred[0]!)).toBeGreaterThan(0); // the means are not zero to begin with
      }
      if (l + 1 < SMALL.n_layer) expect(Array.from(hook(tl, l, 'hook_resid_post'))).toEqual(Array.from(hook(tl, l + 1, 'hook_resid_pre')));
      const bV = weights.tensors.get(`transformer.h.${l}.attn.c_attn.bias`)!.subarray(2 * d);
      const zHf = hook(result, l, 'attn.hook_z');
      const zTl = hook(tl, l, 'attn.hook_z');
      for (let i = 0; i < zHf.length; i++) expect(Math.abs(zHf[i]! - zTl[i]! - bV[i % d]!)).toBeLessThan(1e-14);
      expectClose(hook(tl, l, 'mlp.hook_post'), hook(result, l, 'mlp.hook_post'), 0);
    }
    const V = SMALL.vocab_size;
    for (let o = 0; o < result.logits!.length; o += V) {
      let mean = 0;
      for (let v = 0; v < V; v++) mean += result.logits![o + v]! / V;
      for (let v = 0; v < V; v++) expect(Math.abs(tl.logits![o + v]! - (result.logits![o + v]! - mean))).toBeLessThan(1e-13);
    }
  });

  it('rejects bad inputs', () => {
    expect(() => referenceForward(weights, [[0, SMALL.vocab_size]])).toThrow(/vocabulary/);
    expect(() => referenceForward(weights, [[0, -1]])).toThrow(/vocabulary/);
    expect(() => referenceForward(weights, [[0, 1], [2]])).toThrow(/row 1/);
    expect(() => referenceForward(weights, [new Array<number>(SMALL.n_positions + 1).fill(0)])).toThrow(/positions/);
    expect(() => referenceForward(weights, [[0, 1]], { attentionMask: [[1]] })).toThrow(/attentionMask/);
    expect(() => referenceForward(weights, [])).toThrow(/no rows/);
  });
});

// ---------------------------------------------------------------------------------------------
// Loading from safetensors

function toSafetensors(weights: Gpt2Weights, dtype: 'F32' | 'F64', rename: (name: string) => string = (n) => n, overrides: Record<string, TensorToWrite | null> = {}): Uint8Array {
  const shapes = expectedGpt2Tensors(weights.config);
  const out: Record<string, TensorToWrite> = {};
  for (const [name, values] of weights.tensors) {
    if (name in overrides) {
      const override = overrides[name];
      if (override) out[rename(name)] = override;
      continue;
    }
    out[rename(name)] = { dtype, shape: shapes.get(name)!, data: dtype === 'F32' ? Float32Array.from(values) : Float64Array.from(values) };
  }
  return encodeSafetensors(out);
}

async function loadError(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the load to fail');
}

describe('loadGpt2Weights', () => {
  const weights = randomWeights(SMALL, 21);

  it('loads F32 tensors as float64 copies of the float32 values', async () => {
    const loaded = await loadGpt2Weights(SafetensorsReader.fromBytes(toSafetensors(weights, 'F32')), SMALL);
    expect(loaded.config).toBe(SMALL);
    expect([...loaded.tensors.keys()].sort()).toEqual([...expectedGpt2Tensors(SMALL).keys()].sort());
    for (const [name, values] of weights.tensors) {
      const got = loaded.tensors.get(name)!;
      expect(got).toBeInstanceOf(Float64Array);
      expect(Array.from(got)).toEqual(Array.from(Float32Array.from(values)));
    }
  });

  it('loads F64 tensors exactly, and the forward matches the in-memory weights', async () => {
    const loaded = await loadGpt2Weights(SafetensorsReader.fromBytes(toSafetensors(weights, 'F64')), SMALL);
    for (const [name, values] of weights.tensors) expect(Array.from(loaded.tensors.get(name)!)).toEqual(Array.from(values));
    const ids = randomIds(SMALL, 1, 5, 22);
    expectClose(referenceForward(loaded, ids).logits!, referenceForward(weights, ids).logits!, 0);
  });

  it('accepts unprefixed GPT2Model names and ignores extra tensors', async () => {
    const bytes = toSafetensors(weights, 'F32', (n) => n.replace(/^transformer\./, ''), {});
    const reader = SafetensorsReader.fromBytes(bytes);
    expect(reader.has('wte.weight')).toBe(true);
    const loaded = await loadGpt2Weights(reader, SMALL);
    expect(loaded.tensors.has('transformer.h.2.mlp.c_proj.bias')).toBe(true);

    const extra = encodeSafetensors({
      ...Object.fromEntries([...weights.tensors].map(([name, values]) => [name, { dtype: 'F32', shape: expectedGpt2Tensors(SMALL).get(name)!, data: Float32Array.from(values) } as TensorToWrite])),
      'transformer.h.0.attn.bias': { dtype: 'U8', shape: [1, 1, 4, 4], data: new Uint8Array(16) },
      'lm_head.weight': { dtype: 'F32', shape: [SMALL.vocab_size, SMALL.n_embd], data: new Float32Array(SMALL.vocab_size * SMALL.n_embd) },
    });
    await expect(loadGpt2Weights(SafetensorsReader.fromBytes(extra), SMALL)).resolves.toBeDefined();
  });

  it('rejects a missing tensor, naming it', async () => {
    const bytes = toSafetensors(weights, 'F32', undefined, { 'transformer.h.1.ln_2.bias': null });
    const error = await loadError(loadGpt2Weights(SafetensorsReader.fromBytes(bytes), SMALL));
    expect(error).toBeInstanceOf(AppError);
    expect(errorCode(error)).toBe('model/load-failed');
    expect(error.message).toContain('"transformer.h.1.ln_2.bias" is missing');
  });

  it('rejects a misshaped tensor, naming it with both shapes', async () => {
    const d = SMALL.n_embd;
    const bytes = toSafetensors(weights, 'F32', undefined, {
      'transformer.h.0.attn.c_attn.weight': { dtype: 'F32', shape: [3 * d, d], data: new Float32Array(3 * d * d) },
    });
    const error = await loadError(loadGpt2Weights(SafetensorsReader.fromBytes(bytes), SMALL));
    expect(errorCode(error)).toBe('model/load-failed');
    expect(error.message).toContain('"transformer.h.0.attn.c_attn.weight" has shape [24, 8], expected [8, 24]');
  });

  it('rejects weights for a different config and a non-float tensor', async () => {
    const bytes = toSafetensors(weights, 'F32');
    const error = await loadError(loadGpt2Weights(SafetensorsReader.fromBytes(bytes), { ...SMALL, n_layer: 4 }));
    expect(errorCode(error)).toBe('model/load-failed');
    expect(error.message).toContain('"transformer.h.3.ln_1.weight" is missing');
    expect(error.message).toMatch(/and \d+ more/);

    const ints = toSafetensors(weights, 'F32', undefined, {
      'transformer.ln_f.bias': { dtype: 'I32', shape: [SMALL.n_embd], data: new Int32Array(SMALL.n_embd) },
    });
    const intError = await loadError(loadGpt2Weights(SafetensorsReader.fromBytes(ints), SMALL));
    expect(intError.message).toContain('"transformer.ln_f.bias" has dtype I32');
  });

  it('rejects an impossible config', async () => {
    const bytes = toSafetensors(weights, 'F32');
    const error = await loadError(loadGpt2Weights(SafetensorsReader.fromBytes(bytes), { ...SMALL, n_head: 3 }));
    expect(errorCode(error)).toBe('model/load-failed');
    expect(error.message).toContain('not divisible by n_head');
  });
});

// ---------------------------------------------------------------------------------------------
// The tiny GPT-2 fixture that the ONNX comparison uses (generated separately; skipped while absent).

const fixtureDir = fileURLToPath(new URL('../../fixtures/hub/autointerp-test/tiny-gpt2/', import.meta.url));
const haveFixture = existsSync(`${fixtureDir}model.safetensors`) && existsSync(`${fixtureDir}config.json`);

describe.skipIf(!haveFixture)('tiny-gpt2 fixture', () => {
  it('loads with loadGpt2Weights and runs a finite forward', async () => {
    const config = JSON.parse(readFileSync(`${fixtureDir}config.json`, 'utf8')) as Gpt2Config & { activation_function?: string };
    if (config.activation_function !== undefined) expect(config.activation_function).toBe('gelu_new');
    const reader = SafetensorsReader.fromBytes(new Uint8Array(readFileSync(`${fixtureDir}model.safetensors`)));
    const weights = await loadGpt2Weights(reader, config);
    const ids = randomIds(config, 2, Math.min(8, config.n_positions), 31);
    const result = referenceForward(weights, ids, { attentionMask: [ids[0]!.map(() => 1), ids[1]!.map((_, t) => (t < 5 ? 1 : 0))] });
    expect(result.logits!.length).toBe(2 * ids[0]!.length * config.vocab_size);
    expect(result.logits!.every(Number.isFinite)).toBe(true);
    expect(result.hooks.size).toBe(config.n_layer * HOOK_NAMES.length);
    for (const [name, value] of result.hooks) {
      const hookName = name.replace(/^blocks\.\d+\./, '') as HookName;
      expect(value.length).toBe(2 * ids[0]!.length * hookWidth(config, hookName));
      expect(value.every(Number.isFinite)).toBe(true);
    }
  });
});
