/**
 * Appends an SAE encoder to a model graph, after its hook tensor, as plain ONNX ops that run on the
 * WebGPU execution provider (MatMul, Add, Relu, Greater, TopK, ... all stay on the GPU). Only the
 * sparse result leaves the GPU: per token the K largest activations and their feature indices.
 *
 * - TopK SAEs: K = k, exactly what the SAE keeps.
 * - ReLU / JumpReLU / gated SAEs: K is a cap fed at run time (`sae_k`), and the graph also returns each
 *   token's true number of active features; the engine re-runs a batch with a larger cap when any token
 *   has more, so no activation is ever dropped.
 * - W_enc is split into column blocks when it would exceed the device's largest buffer (a 131072 x 768
 *   float32 encoder is 384 MiB), and the block outputs are concatenated.
 */
import { AppError } from '../errors.ts';
import { attrInt, encodeModel, makeGraph, makeModel, makeValueInfo, TensorDataType, type OnnxGraph } from '../formats/index.ts';
import { GraphBuilder } from './graph-builder.ts';
import { appendTopK, type ChunkedTopKPlan } from './top-k-graph.ts';
import type { SaeSpec, SaeWeights } from './types.ts';

export const SAE_OUTPUTS = {
  values: 'sae_values',
  indices: 'sae_indices',
  /** Per token, how many features are > 0 (ReLU-like SAEs only). */
  activeCount: 'sae_active_count',
} as const;

/** Graph input holding the TopK cap, int64 [1]. */
export const SAE_K_INPUT = 'sae_k';

export interface EncoderGraphOptions {
  /** The model's ai.onnx opset (reduce ops take axes as an attribute or an input depending on it). */
  opset: number;
  /** The largest weight tensor to create, in bytes; W_enc is split by columns above it. */
  maxTensorBytes: number;
  /** TransformerLens's folded value bias, subtracted from hook_z when the SAE expects it. */
  valueBias?: Float32Array;
  /** For per-head hook_z SAEs: the head to read, and the head width. */
  head?: { index: number; dHead: number };
  /** How the top k are selected: planned from the width when absent; null for one TopK over the row (tests force either). */
  topKPlan?: ChunkedTopKPlan | null;
}

/** Appends the encoder after `hookTensor` and sets the graph's outputs to the sparse result. */
export function appendSaeEncoder(graph: OnnxGraph, hookTensor: string, spec: SaeSpec, weights: SaeWeights, options: EncoderGraphOptions): void {
  const g = new GraphBuilder(graph, '/sae/', options.opset);
  const { dIn, width } = spec;
  const reduce = (op: 'ReduceMean' | 'ReduceSum', x: string, keepdims: 0 | 1) => g.reduce(op, x, -1, keepdims);
  const scalar = (name: string, value: number) => g.weight(name, new Float32Array([value]), []);

  let x = hookTensor;
  if (options.head) {
    const { index, dHead } = options.head;
    x = g.op('Slice', [x, g.int64('head_start', [index * dHead]), g.int64('head_end', [(index + 1) * dHead]), g.int64('head_axis', [-1])]);
  }
  if (options.valueBias) {
    const bias = options.head ? options.valueBias.slice(options.head.index * options.head.dHead, (options.head.index + 1) * options.head.dHead) : options.valueBias;
    x = g.op('Sub', [x, g.weight('value_bias', bias, [bias.length])]);
  }
  if (spec.centerResidual) x = g.op('Sub', [x, reduce('ReduceMean', x, 1)]);

  switch (spec.normalizeActivations) {
    case 'none':
      break;
    case 'layer_norm': {
      // (x - mean) / (std + 1e-5), std with N-1 as the OpenAI and SAELens encoders use.
      const centred = g.op('Sub', [x, reduce('ReduceMean', x, 1)]);
      const variance = g.op('Div', [reduce('ReduceSum', g.op('Mul', [centred, centred]), 1), scalar('d_in_minus_1', dIn - 1)]);
      x = g.op('Div', [centred, g.op('Add', [g.op('Sqrt', [variance]), scalar('ln_eps', 1e-5)])]);
      break;
    }
    case 'constant_norm_rescale': {
      const norm = g.op('Sqrt', [reduce('ReduceSum', g.op('Mul', [x, x]), 1)]);
      x = g.op('Mul', [x, g.op('Div', [scalar('sqrt_d_in', Math.sqrt(dIn)), norm])]);
      break;
    }
    case 'expected_average_only_in': {
      if (spec.normalizationScale === undefined) {
        throw new AppError('sae/bad-config', 'This SAE scales its input by a constant that its files do not give. Estimate it from the corpus or enter it before encoding.');
      }
      x = g.op('Mul', [x, scalar('input_scale', spec.normalizationScale)]);
      break;
    }
  }
  if (spec.applyBDecToInput) x = g.op('Sub', [x, g.weight('b_dec', weights.bDec, [dIn])]);

  const product = appendEncoderProduct(g, x, spec, weights, options.maxTensorBytes);

  let acts: string;
  switch (spec.architecture) {
    case 'relu':
      acts = g.op('Relu', [g.op('Add', [product, g.weight('b_enc', weights.bEnc, [width])])]);
      break;
    case 'jumprelu': {
      if (!weights.threshold) throw new AppError('sae/bad-shape', 'This JumpReLU SAE has no threshold tensor.');
      const pre = g.op('Add', [product, g.weight('b_enc', weights.bEnc, [width])]);
      const open = g.op('Cast', [g.op('Greater', [pre, g.weight('threshold', weights.threshold, [width])])], [attrInt('to', TensorDataType.FLOAT)]);
      acts = g.op('Mul', [g.op('Relu', [pre]), open]);
      break;
    }
    case 'gated': {
      if (!weights.rMag || !weights.bMag) throw new AppError('sae/bad-shape', 'This gated SAE lacks r_mag or b_mag.');
      const gate = g.op('Greater', [g.op('Add', [product, g.weight('b_gate', weights.bGate ?? weights.bEnc, [width])]), scalar('zero', 0)]);
      const magnitude = g.op('Relu', [g.op('Add', [g.op('Mul', [product, g.weight('exp_r_mag', weights.rMag.map(Math.exp), [width])]), g.weight('b_mag', weights.bMag, [width])])]);
      acts = g.op('Mul', [magnitude, g.op('Cast', [gate], [attrInt('to', TensorDataType.FLOAT)])]);
      break;
    }
    case 'topk': {
      let pre = g.op('Add', [product, g.weight('b_enc', weights.bEnc, [width])]);
      if (spec.rescaleActsByDecoderNorm) pre = g.op('Mul', [pre, g.weight('decoder_norms', decoderRowNorms(weights.wDec, width, dIn), [width])]);
      acts = pre;
      break;
    }
  }

  graph.inputs.push(makeValueInfo(SAE_K_INPUT, TensorDataType.INT64, [1]));
  const outputs: string[] = [SAE_OUTPUTS.values, SAE_OUTPUTS.indices];
  const topK = (values: string) => appendTopK(g, acts, width, SAE_K_INPUT, { values, indices: SAE_OUTPUTS.indices }, options.topKPlan);
  if (spec.architecture === 'topk') {
    topK('/sae/topk_values');
    g.op('Relu', ['/sae/topk_values'], [], [SAE_OUTPUTS.values]);
  } else {
    topK(SAE_OUTPUTS.values);
    const active = g.op('Cast', [g.op('Greater', [acts, scalar('zero_count', 0)])], [attrInt('to', TensorDataType.FLOAT)]);
    const count = reduce('ReduceSum', active, 0);
    g.op('Identity', [count], [], [SAE_OUTPUTS.activeCount]);
    outputs.push(SAE_OUTPUTS.activeCount);
  }
  graph.outputs = [
    makeValueInfo(SAE_OUTPUTS.values, TensorDataType.FLOAT),
    makeValueInfo(SAE_OUTPUTS.indices, TensorDataType.INT64),
    ...(outputs.length > 2 ? [makeValueInfo(SAE_OUTPUTS.activeCount, TensorDataType.FLOAT)] : []),
  ];
}

/**
 * x @ W_enc, split into column blocks that each fit one GPU buffer; in float16 when chosen (the input
 * and W_enc rounded, the product widened back: everything after it stays float32).
 */
function appendEncoderProduct(g: GraphBuilder, x: string, spec: SaeSpec, weights: SaeWeights, maxTensorBytes: number): string {
  const { dIn, width } = spec;
  const half = spec.encoderPrecision === 'float16';
  const input = half ? g.op('Cast', [x], [attrInt('to', TensorDataType.FLOAT16)]) : x;
  const columnsPerBlock = encoderBlockColumns(dIn, maxTensorBytes, spec.encoderPrecision);
  const blocks: string[] = [];
  for (let start = 0; start < width; start += columnsPerBlock) {
    const end = Math.min(width, start + columnsPerBlock);
    const block = end - start === width ? weights.wEnc : columnBlock(weights.wEnc, dIn, width, start, end);
    const name = `W_enc_${start}`;
    blocks.push(g.op('MatMul', [input, half ? g.half(name, block, [dIn, end - start]) : g.weight(name, block, [dIn, end - start])]));
  }
  const joined = blocks.length === 1 ? blocks[0]! : g.op('Concat', blocks, [attrInt('axis', -1)]);
  return half ? g.op('Cast', [joined], [attrInt('to', TensorDataType.FLOAT)]) : joined;
}

/** The input of the encoder-product model ([batch, seq, d_in] float32) and its output (each token's largest product). */
export const ENCODER_PRODUCT_IO = { input: 'x', output: 'largest' } as const;

/**
 * The encoder's matrix product alone, as a model of its own: the least any encoder of this SAE pays per
 * token, which the benchmark sets against the cut forward to bound what encoding can cost. Only each
 * token's largest value comes back, so no read-back is timed.
 */
export function buildEncoderProductModel(spec: SaeSpec, weights: SaeWeights, options: { maxTensorBytes: number; opset?: number }): Uint8Array {
  const opset = options.opset ?? 17;
  const graph = makeGraph({ nodes: [], inputs: [makeValueInfo(ENCODER_PRODUCT_IO.input, TensorDataType.FLOAT, ['batch', 'seq', spec.dIn])] });
  const g = new GraphBuilder(graph, '/sae/', opset);
  const largest = g.reduce('ReduceMax', appendEncoderProduct(g, ENCODER_PRODUCT_IO.input, spec, weights, options.maxTensorBytes), -1, 0);
  g.op('Identity', [largest], [], [ENCODER_PRODUCT_IO.output]);
  graph.outputs = [makeValueInfo(ENCODER_PRODUCT_IO.output, TensorDataType.FLOAT)];
  return encodeModel(makeModel(graph, { opset }));
}

/** Columns of W_enc per block so that one block stays under `maxTensorBytes` (in float32, or float16 when chosen). */
export function encoderBlockColumns(dIn: number, maxTensorBytes: number, precision?: SaeSpec['encoderPrecision']): number {
  return Math.max(1, Math.floor(maxTensorBytes / (dIn * (precision === 'float16' ? 2 : 4))));
}

function columnBlock(matrix: Float32Array, rows: number, cols: number, start: number, end: number): Float32Array {
  const width = end - start;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(matrix.subarray(r * cols + start, r * cols + end), r * width);
  return out;
}

function decoderRowNorms(wDec: Float32Array, width: number, dIn: number): Float32Array {
  const norms = new Float32Array(width);
  for (let f = 0; f < width; f++) {
    let sum = 0;
    for (let i = 0; i < dIn; i++) sum += wDec[f * dIn + i]! ** 2;
    norms[f] = Math.sqrt(sum);
  }
  return norms;
}
