/**
 * A plain float64 GPT-2 forward pass that returns every TransformerLens hook point.
 *
 * This is the ground truth that the WebGPU and ONNX paths are checked against, in Node unit tests and
 * bundled into browser tests. It is deliberately simple: pure TypeScript, no DOM, no Node APIs, no
 * dependencies, float64 (Float64Array) arithmetic throughout, one batch row at a time, no fusion.
 *
 * Weights use Hugging Face GPT-2 names and Conv1D layouts (y = x @ W + b, W is [in, out]):
 *   transformer.wte.weight [V, d], transformer.wpe.weight [P, d]
 *   transformer.h.L.ln_1.{weight,bias} [d]
 *   transformer.h.L.attn.c_attn.{weight [d, 3d], bias [3d]}   q | k | v blocks of d columns, heads consecutive
 *   transformer.h.L.attn.c_proj.{weight [d, d], bias [d]}
 *   transformer.h.L.ln_2.{weight,bias} [d]
 *   transformer.h.L.mlp.c_fc.{weight [d, 4d], bias [4d]}
 *   transformer.h.L.mlp.c_proj.{weight [4d, d], bias [d]}
 *   transformer.ln_f.{weight,bias} [d]
 * The LM head is tied: logits = ln_f(x) @ wte^T.
 *
 * Semantics: GELU-new (tanh approximation); LayerNorm with biased variance and `layer_norm_epsilon`
 * (default 1e-5); causal attention with scores scaled by 1/sqrt(d_head) and padded keys masked out;
 * position ids 0..seq-1 in every row (we only use right padding, so real tokens keep their positions).
 */
import { AppError } from '../../src/lib/errors.ts';
import type { SafetensorsReader } from '../../src/lib/formats/index.ts';

export interface Gpt2Config {
  n_layer: number;
  n_head: number;
  n_embd: number;
  n_positions: number;
  vocab_size: number;
  /** MLP width; null or absent means 4 * n_embd (as in Hugging Face). */
  n_inner?: number | null;
  /** LayerNorm epsilon; absent means 1e-5. */
  layer_norm_epsilon?: number;
}

export interface Gpt2Weights {
  config: Gpt2Config;
  /** float64 copies of each Hugging Face tensor, always under the `transformer.`-prefixed names. */
  tensors: Map<string, Float64Array>;
}

export type HookName =
  | 'hook_resid_pre'
  | 'hook_resid_mid'
  | 'hook_resid_post'
  | 'hook_attn_out'
  | 'hook_mlp_out'
  | 'mlp.hook_post'
  | 'attn.hook_z';

export const HOOK_NAMES: readonly HookName[] = [
  'hook_resid_pre',
  'attn.hook_z',
  'hook_attn_out',
  'hook_resid_mid',
  'mlp.hook_post',
  'hook_mlp_out',
  'hook_resid_post',
];

/** Full TransformerLens name: 'blocks.3.hook_resid_pre', 'blocks.3.mlp.hook_post', 'blocks.3.attn.hook_z'. */
export function hookPointName(layer: number, hook: HookName): string {
  return `blocks.${layer}.${hook}`;
}

export interface ReferenceOptions {
  /** [batch][seq]: 1 = real token, 0 = padding. Padded keys are masked out of attention. */
  attentionMask?: number[][];
  /**
   * Run blocks 0..stopAfterLayer only. When set, later blocks, ln_f and the logits are skipped
   * (even when it is the last layer), and `hooks` holds only layers 0..stopAfterLayer.
   */
  stopAfterLayer?: number;
  /**
   * Return values as TransformerLens would with its default weight processing of GPT-2
   * (`from_pretrained` with fold_ln, center_writing_weights, center_unembed, fold_value_biases):
   *  - center_writing_weights makes every write to the residual stream (W_E, W_pos, W_O, b_O, W_out,
   *    b_out) mean-free over d_model. Everything is linear, so hook_resid_pre/mid/post, hook_attn_out
   *    and hook_mlp_out become each token's Hugging Face vector minus its mean over d_model. (LayerNorm
   *    subtracts the mean anyway, so nothing downstream changes.)
   *  - fold_ln moves the LayerNorm weights and biases into the following weights: no hook changes.
   *  - fold_value_biases moves b_V into b_O (valid because every attention row sums to 1), so attn.hook_z
   *    is the Hugging Face z minus b_V of its head; hook_attn_out is unchanged (apart from centring).
   *  - mlp.hook_post is unchanged.
   *  - center_unembed makes W_U mean-free over the vocabulary, so the logits become the Hugging Face
   *    logits minus their mean over the vocabulary (softmax is unchanged).
   */
  transformerLens?: boolean;
}

export interface ReferenceResult {
  batch: number;
  seq: number;
  /** [batch, seq, vocab]; absent when stopAfterLayer was given. */
  logits?: Float64Array;
  /** Full TransformerLens names -> [batch, seq, width]; attn.hook_z is [batch, seq, n_head, d_head]. */
  hooks: Map<string, Float64Array>;
}

const DEFAULT_EPSILON = 1e-5;

function mlpWidth(config: Gpt2Config): number {
  return config.n_inner ?? 4 * config.n_embd;
}

/** Width of one token's activation at a hook point. */
export function hookWidth(config: Gpt2Config, hook: HookName): number {
  switch (hook) {
    case 'mlp.hook_post':
      return mlpWidth(config);
    case 'attn.hook_z':
      return config.n_head * (config.n_embd / config.n_head);
    default:
      return config.n_embd;
  }
}

/** GELU-new (tanh approximation), as GPT-2 uses. */
export function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Expected tensor names (with `transformer.` prefix) and shapes for a config. */
export function expectedGpt2Tensors(config: Gpt2Config): Map<string, number[]> {
  const d = config.n_embd;
  const inner = mlpWidth(config);
  const shapes = new Map<string, number[]>();
  shapes.set('transformer.wte.weight', [config.vocab_size, d]);
  shapes.set('transformer.wpe.weight', [config.n_positions, d]);
  for (let l = 0; l < config.n_layer; l++) {
    const p = `transformer.h.${l}.`;
    shapes.set(`${p}ln_1.weight`, [d]);
    shapes.set(`${p}ln_1.bias`, [d]);
    shapes.set(`${p}attn.c_attn.weight`, [d, 3 * d]);
    shapes.set(`${p}attn.c_attn.bias`, [3 * d]);
    shapes.set(`${p}attn.c_proj.weight`, [d, d]);
    shapes.set(`${p}attn.c_proj.bias`, [d]);
    shapes.set(`${p}ln_2.weight`, [d]);
    shapes.set(`${p}ln_2.bias`, [d]);
    shapes.set(`${p}mlp.c_fc.weight`, [d, inner]);
    shapes.set(`${p}mlp.c_fc.bias`, [inner]);
    shapes.set(`${p}mlp.c_proj.weight`, [inner, d]);
    shapes.set(`${p}mlp.c_proj.bias`, [d]);
  }
  shapes.set('transformer.ln_f.weight', [d]);
  shapes.set('transformer.ln_f.bias', [d]);
  return shapes;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** Throws AppError('model/load-failed') when the config cannot describe a GPT-2. */
export function validateGpt2Config(config: Gpt2Config): void {
  for (const key of ['n_layer', 'n_head', 'n_embd', 'n_positions', 'vocab_size'] as const) {
    if (!isPositiveInteger(config[key])) {
      throw new AppError('model/load-failed', `The GPT-2 config has ${key} = ${JSON.stringify(config[key])}; a positive integer is needed.`);
    }
  }
  if (config.n_embd % config.n_head !== 0) {
    throw new AppError('model/load-failed', `The GPT-2 config has n_embd = ${config.n_embd}, which is not divisible by n_head = ${config.n_head}.`);
  }
  if (config.n_inner != null && !isPositiveInteger(config.n_inner)) {
    throw new AppError('model/load-failed', `The GPT-2 config has n_inner = ${JSON.stringify(config.n_inner)}; a positive integer or null is needed.`);
  }
  const eps = config.layer_norm_epsilon;
  if (eps !== undefined && !(typeof eps === 'number' && Number.isFinite(eps) && eps >= 0)) {
    throw new AppError('model/load-failed', `The GPT-2 config has layer_norm_epsilon = ${JSON.stringify(eps)}; a non-negative number is needed.`);
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Reads and validates every GPT-2 tensor as float64. Accepts both `transformer.`-prefixed names
 * (GPT2LMHeadModel checkpoints) and unprefixed ones (GPT2Model checkpoints such as openai-community/gpt2);
 * the result always uses the prefixed names. Extra tensors (attn.bias buffers, lm_head.weight) are ignored.
 * Throws AppError('model/load-failed') naming every missing, misshaped or non-float tensor.
 */
export async function loadGpt2Weights(reader: SafetensorsReader, config: Gpt2Config): Promise<Gpt2Weights> {
  validateGpt2Config(config);
  const expected = expectedGpt2Tensors(config);
  const prefixed = reader.has('transformer.wte.weight') || !reader.has('wte.weight');
  const fileName = (name: string) => (prefixed ? name : name.slice('transformer.'.length));

  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const stored = fileName(name);
    if (!reader.has(stored)) {
      problems.push(`tensor "${stored}" is missing`);
      continue;
    }
    const entry = reader.entry(stored);
    if (!sameShape(entry.shape, shape)) {
      problems.push(`tensor "${stored}" has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}]`);
    } else if (!['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) {
      problems.push(`tensor "${stored}" has dtype ${entry.dtype}, expected a float dtype (F32, F16, BF16, F64)`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
    throw new AppError(
      'model/load-failed',
      `The weights do not match a GPT-2 with n_layer=${config.n_layer}, n_embd=${config.n_embd}, vocab_size=${config.vocab_size}, n_positions=${config.n_positions}: ${shown}${more}. Check that the weights file and config.json belong together.`,
    );
  }

  const tensors = new Map<string, Float64Array>();
  for (const name of expected.keys()) {
    const stored = fileName(name);
    const entry = reader.entry(stored);
    if (entry.dtype === 'F64') {
      const bytes = await reader.raw(stored);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const values = new Float64Array(bytes.byteLength / 8);
      for (let i = 0; i < values.length; i++) values[i] = view.getFloat64(i * 8, true);
      tensors.set(name, values);
    } else {
      tensors.set(name, Float64Array.from(await reader.float32(stored)));
    }
  }
  return { config, tensors };
}

// ---------------------------------------------------------------------------------------------
// Building blocks. Matrices are row-major; `rows` is the number of tokens.

function tensor(weights: Gpt2Weights, name: string): Float64Array {
  const value = weights.tensors.get(name);
  if (!value) throw new AppError('model/load-failed', `The GPT-2 weights have no tensor "${name}".`);
  return value;
}

/** out[rows, d] = LayerNorm(x[rows, d]) * weight + bias, biased variance. */
function layerNorm(x: Float64Array, rows: number, d: number, weight: Float64Array, bias: Float64Array, eps: number): Float64Array {
  const out = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[o + i]!;
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) {
      const c = x[o + i]! - mean;
      variance += c * c;
    }
    variance /= d;
    const scale = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < d; i++) out[o + i] = (x[o + i]! - mean) * scale * weight[i]! + bias[i]!;
  }
  return out;
}

/** out[rows, n] = x[rows, k] @ w[k, n] + b[n] (Hugging Face Conv1D). */
function linear(x: Float64Array, rows: number, k: number, n: number, w: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) out[o + j] = b[j]!;
    for (let i = 0; i < k; i++) {
      const xi = x[r * k + i]!;
      if (xi === 0) continue;
      const wo = i * n;
      for (let j = 0; j < n; j++) out[o + j] += xi * w[wo + j]!;
    }
  }
  return out;
}

/**
 * Causal multi-head attention core. qkv is [T, 3d] (q | k | v). Returns z [T, n_head * d_head]
 * (heads consecutive), the attention-weighted values before c_proj. Query i attends to keys j <= i
 * whose mask is 1. A query with no allowed key (only possible for a fully padded row) gets z = 0.
 */
function attention(qkv: Float64Array, T: number, d: number, nHead: number, mask: readonly number[] | undefined): Float64Array {
  const dHead = d / nHead;
  const scale = 1 / Math.sqrt(dHead);
  const z = new Float64Array(T * d);
  const scores = new Float64Array(T);
  const allowed = (j: number) => mask === undefined || mask[j] !== 0;
  for (let h = 0; h < nHead; h++) {
    const qOff = h * dHead;
    const kOff = d + h * dHead;
    const vOff = 2 * d + h * dHead;
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        if (!allowed(j)) continue;
        let s = 0;
        for (let e = 0; e < dHead; e++) s += qkv[i * 3 * d + qOff + e]! * qkv[j * 3 * d + kOff + e]!;
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      if (max === -Infinity) continue;
      let sum = 0;
      for (let j = 0; j <= i; j++) {
        if (!allowed(j)) continue;
        const p = Math.exp(scores[j]! - max);
        scores[j] = p;
        sum += p;
      }
      const zo = i * d + h * dHead;
      for (let j = 0; j <= i; j++) {
        if (!allowed(j)) continue;
        const p = scores[j]! / sum;
        for (let e = 0; e < dHead; e++) z[zo + e] += p * qkv[j * 3 * d + vOff + e]!;
      }
    }
  }
  return z;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** Subtracts each row's mean in place. */
function centerRows(x: Float64Array, width: number): void {
  for (let o = 0; o < x.length; o += width) {
    let mean = 0;
    for (let i = 0; i < width; i++) mean += x[o + i]!;
    mean /= width;
    for (let i = 0; i < width; i++) x[o + i] -= mean;
  }
}

// ---------------------------------------------------------------------------------------------
// Forward

function validateInputs(config: Gpt2Config, inputIds: number[][], options: ReferenceOptions): { batch: number; seq: number } {
  const batch = inputIds.length;
  if (batch === 0) throw new RangeError('referenceForward: inputIds has no rows.');
  const seq = inputIds[0]!.length;
  if (seq === 0) throw new RangeError('referenceForward: inputIds rows are empty.');
  if (seq > config.n_positions) {
    throw new RangeError(`referenceForward: ${seq} tokens per row, but the model has only ${config.n_positions} positions.`);
  }
  for (const [b, row] of inputIds.entries()) {
    if (row.length !== seq) throw new RangeError(`referenceForward: row ${b} has ${row.length} tokens, row 0 has ${seq}.`);
    for (const [t, id] of row.entries()) {
      if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size) {
        throw new RangeError(`referenceForward: token ${id} at [${b}, ${t}] is outside the vocabulary (0..${config.vocab_size - 1}).`);
      }
    }
  }
  const mask = options.attentionMask;
  if (mask !== undefined) {
    if (mask.length !== batch || mask.some((row) => row.length !== seq)) {
      throw new RangeError(`referenceForward: attentionMask must be [${batch}, ${seq}] like inputIds.`);
    }
  }
  const stop = options.stopAfterLayer;
  if (stop !== undefined && !(Number.isInteger(stop) && stop >= 0 && stop < config.n_layer)) {
    throw new RangeError(`referenceForward: stopAfterLayer ${stop} is outside 0..${config.n_layer - 1}.`);
  }
  return { batch, seq };
}

/**
 * Runs GPT-2 in float64 over `inputIds` ([batch][seq]) and returns every hook point of every layer
 * that ran, plus the logits when the whole model ran. See ReferenceOptions for masking, early stop
 * and TransformerLens-style values.
 */
export function referenceForward(weights: Gpt2Weights, inputIds: number[][], options: ReferenceOptions = {}): ReferenceResult {
  const config = weights.config;
  const { batch, seq } = validateInputs(config, inputIds, options);
  const d = config.n_embd;
  const nHead = config.n_head;
  const inner = mlpWidth(config);
  const vocab = config.vocab_size;
  const eps = config.layer_norm_epsilon ?? DEFAULT_EPSILON;
  const lastLayer = options.stopAfterLayer ?? config.n_layer - 1;
  const wantLogits = options.stopAfterLayer === undefined;

  const hooks = new Map<string, Float64Array>();
  for (let l = 0; l <= lastLayer; l++) {
    for (const hook of HOOK_NAMES) hooks.set(hookPointName(l, hook), new Float64Array(batch * seq * hookWidth(config, hook)));
  }
  const store = (l: number, hook: HookName, b: number, values: Float64Array) => {
    hooks.get(hookPointName(l, hook))!.set(values, b * values.length);
  };
  const logits = wantLogits ? new Float64Array(batch * seq * vocab) : undefined;

  const wte = tensor(weights, 'transformer.wte.weight');
  const wpe = tensor(weights, 'transformer.wpe.weight');

  for (let b = 0; b < batch; b++) {
    const ids = inputIds[b]!;
    const mask = options.attentionMask?.[b];

    // Embeddings: token + position (positions 0..seq-1 regardless of padding).
    let x: Float64Array = new Float64Array(seq * d);
    for (let t = 0; t < seq; t++) {
      const te = ids[t]! * d;
      const pe = t * d;
      for (let i = 0; i < d; i++) x[t * d + i] = wte[te + i]! + wpe[pe + i]!;
    }

    for (let l = 0; l <= lastLayer; l++) {
      const p = `transformer.h.${l}.`;
      store(l, 'hook_resid_pre', b, x);

      const ln1 = layerNorm(x, seq, d, tensor(weights, `${p}ln_1.weight`), tensor(weights, `${p}ln_1.bias`), eps);
      const qkv = linear(ln1, seq, d, 3 * d, tensor(weights, `${p}attn.c_attn.weight`), tensor(weights, `${p}attn.c_attn.bias`));
      const z = attention(qkv, seq, d, nHead, mask);
      store(l, 'attn.hook_z', b, z);
      const attnOut = linear(z, seq, d, d, tensor(weights, `${p}attn.c_proj.weight`), tensor(weights, `${p}attn.c_proj.bias`));
      store(l, 'hook_attn_out', b, attnOut);
      const residMid = add(x, attnOut);
      store(l, 'hook_resid_mid', b, residMid);

      const ln2 = layerNorm(residMid, seq, d, tensor(weights, `${p}ln_2.weight`), tensor(weights, `${p}ln_2.bias`), eps);
      const pre = linear(ln2, seq, d, inner, tensor(weights, `${p}mlp.c_fc.weight`), tensor(weights, `${p}mlp.c_fc.bias`));
      const post = pre.map(geluNew);
      store(l, 'mlp.hook_post', b, post);
      const mlpOut = linear(post, seq, inner, d, tensor(weights, `${p}mlp.c_proj.weight`), tensor(weights, `${p}mlp.c_proj.bias`));
      store(l, 'hook_mlp_out', b, mlpOut);
      const residPost = add(residMid, mlpOut);
      store(l, 'hook_resid_post', b, residPost);
      x = residPost;
    }

    if (logits) {
      const final = layerNorm(x, seq, d, tensor(weights, 'transformer.ln_f.weight'), tensor(weights, 'transformer.ln_f.bias'), eps);
      // Tied head: logits[t, v] = final[t] . wte[v].
      for (let t = 0; t < seq; t++) {
        const lo = (b * seq + t) * vocab;
        for (let v = 0; v < vocab; v++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += final[t * d + i]! * wte[v * d + i]!;
          logits[lo + v] = s;
        }
      }
    }
  }

  if (options.transformerLens) {
    const dHead = d / nHead;
    for (let l = 0; l <= lastLayer; l++) {
      for (const hook of ['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post', 'hook_attn_out', 'hook_mlp_out'] as const) {
        centerRows(hooks.get(hookPointName(l, hook))!, d);
      }
      // fold_value_biases: z excludes b_V (the last d entries of c_attn.bias, heads consecutive).
      const cAttnBias = tensor(weights, `transformer.h.${l}.attn.c_attn.bias`);
      const z = hooks.get(hookPointName(l, 'attn.hook_z'))!;
      for (let o = 0; o < z.length; o += d) {
        for (let i = 0; i < nHead * dHead; i++) z[o + i] -= cAttnBias[2 * d + i]!;
      }
    }
    if (logits) centerRows(logits, vocab);
  }

  return logits ? { batch, seq, logits, hooks } : { batch, seq, hooks };
}
