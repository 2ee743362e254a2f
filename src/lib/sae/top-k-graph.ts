/**
 * The k largest of each token's pre-activations as ONNX ops that stay fast on onnxruntime's WebGPU
 * provider. Its TopK sorts a whole row: in workgroup memory up to 2048 columns (one dispatch), beyond
 * that in global memory (log2(n)(log2(n)+1)/2 dispatches over the padded row, 120 for 32768 columns),
 * which on SwiftShader cost half as much again as the encoder's matrix product.
 *
 * So wide rows are cut into chunks of `chunk` columns and only chunks that can hold a winner are sorted:
 *   1. each chunk's maximum (ReduceMax passes of at most 16 columns, the provider's one-thread-per-
 *      output kernel; wider reductions take a workgroup per output);
 *   2. the k chunks with the largest maxima: every one of the row's k largest lies in them (a chunk
 *      left out has k chunks whose maxima beat, or tie with a lower index, everything in it);
 *   3. those chunks put back in column order, then one TopK over their k x chunk values.
 * Step 3 keeps the candidates in column order, so ties resolve to the lower feature index as one TopK
 * over the row does: the result is the same, bit for bit. Feature indices are carried as float32
 * (exact below 2^24) because the provider runs no int64 arithmetic; only the last Cast makes int64.
 */
import { attrInt, TensorDataType } from '../formats/index.ts';
import type { GraphBuilder } from './graph-builder.ts';

/** The longest row onnxruntime's WebGPU TopK sorts in workgroup memory, in one dispatch. */
export const SHARED_MEMORY_TOPK = 2048;
/** The widest ReduceMax pass that runs as one thread per output (onnxruntime: reduce size < 32). */
const NAIVE_REDUCE = 16;
/** Feature indices travel as float32: exact up to here. */
const FLOAT_EXACT = 2 ** 24;

export interface ChunkedTopKPlan {
  /** Columns per chunk: the product of `passes`. */
  chunk: number;
  /** The ReduceMax widths, innermost first, each at most 16. */
  passes: number[];
}

/**
 * How to cut a row of `width` columns: the narrowest chunk that leaves at most 2048 chunks (so step 2
 * sorts in workgroup memory) and divides the row into ReduceMax passes of at most 16. Undefined when one
 * TopK is as good (rows up to 2048) or no such chunk divides the width.
 */
export function planChunkedTopK(width: number): ChunkedTopKPlan | undefined {
  if (width <= SHARED_MEMORY_TOPK || width >= FLOAT_EXACT) return undefined;
  for (let chunk = 2; chunk <= width / 2; chunk++) {
    if (width % chunk !== 0 || width / chunk > SHARED_MEMORY_TOPK) continue;
    const passes = reducePasses(chunk);
    if (passes) return { chunk, passes };
  }
  return undefined;
}

/** `n` as factors of at most 16 (first fit over its prime factors, largest first), or undefined. */
function reducePasses(n: number): number[] | undefined {
  const primes: number[] = [];
  for (let rest = n, p = 2; rest > 1; p++) {
    while (rest % p === 0) {
      if (p > NAIVE_REDUCE) return undefined;
      primes.push(p);
      rest /= p;
    }
  }
  const passes: number[] = [];
  for (const p of primes.reverse()) {
    const fits = passes.findIndex((f) => f * p <= NAIVE_REDUCE);
    if (fits >= 0) passes[fits]! *= p;
    else passes.push(p);
  }
  return passes.sort((a, b) => b - a);
}

/**
 * Appends the top-k selection over the last axis of `x` ([..., width] float32), `k` an int64 [1] graph
 * input, writing its values and int64 indices to `outputs` (flattened to [tokens, k]). Uses the chunked
 * plan (the width's own unless given; null for none) from opset 12 (GatherND's batch_dims), else one TopK.
 */
export function appendTopK(g: GraphBuilder, x: string, width: number, k: string, outputs: { values: string; indices: string }, plan: ChunkedTopKPlan | null | undefined = planChunkedTopK(width)): void {
  const sorted = [attrInt('axis', -1), attrInt('largest', 1), attrInt('sorted', 1)];
  if (!plan || g.opset < 12) {
    g.ops('TopK', [x, k], sorted, [outputs.values, outputs.indices]);
    return;
  }
  const { chunk, passes } = plan;
  const chunks = width / chunk;
  // 1. Each chunk's maximum, [tokens, chunks, 1].
  let maxima = g.op('Reshape', [x, g.int64('chunk_shape', [-1, chunks, ...[...passes].reverse()])]);
  passes.forEach((_, i) => {
    maxima = g.reduce('ReduceMax', maxima, -1, i === passes.length - 1 ? 1 : 0);
  });
  // 2. The k chunks with the largest maxima (all of them when there are fewer than k); int64 arithmetic
  //    on the graph input k runs on the CPU, where onnxruntime keeps TopK's k anyway.
  const chunkK = g.op('Min', [k, g.int64('chunk_count', [chunks])]);
  const [, picked] = g.ops('TopK', [maxima, chunkK], [attrInt('axis', 1), attrInt('largest', 1), attrInt('sorted', 1)], undefined, 2);
  // 3. The picked chunks in column order, with each column's feature index.
  const starts = g.op('Gather', [g.weight('chunk_starts', Float32Array.from({ length: chunks }, (_, c) => c * chunk), [chunks]), picked!], [attrInt('axis', 0)]);
  const [ordered, order] = g.ops('TopK', [starts, chunkK], [attrInt('axis', 1), attrInt('largest', 0), attrInt('sorted', 1)], undefined, 2);
  const rows = g.op('Reshape', [x, g.int64('rows_shape', [-1, chunks, chunk])]);
  const candidates = g.op('GatherND', [g.op('GatherND', [rows, picked!], [attrInt('batch_dims', 1)]), order!], [attrInt('batch_dims', 1)]);
  const features = g.op('Add', [ordered!, g.weight('chunk_columns', Float32Array.from({ length: chunk }, (_, i) => i), [chunk])]);
  const flat = g.int64('candidates_shape', [0, -1]);
  const [, position] = g.ops('TopK', [g.op('Reshape', [candidates, flat]), k], sorted, [outputs.values, `${outputs.values}_position`]);
  const index = g.op('GatherElements', [g.op('Reshape', [features, flat]), position!], [attrInt('axis', -1)]);
  g.op('Cast', [index], [attrInt('to', TensorDataType.INT64)], [outputs.indices]);
}
