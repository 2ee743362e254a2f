/**
 * Records that cross stages, and the contracts of what the platform provides (a runtime for ONNX
 * graphs, a tokenizer). Records are plain data: no classes, safe to send across a worker boundary.
 */
import type { WebGpuStatus } from './util/index.ts';

/**
 * Sparse activations of a batch of tokens in CSR form: token t's active features are
 * `features[offsets[t] .. offsets[t+1])` with `values` alongside, in increasing feature order.
 */
export interface SparseActivations {
  tokens: number;
  offsets: Uint32Array;
  features: Uint32Array;
  values: Float32Array;
}

/** A tensor as the engine feeds and reads it, whatever runtime runs the graph. float16 data is the raw bits. */
export type TensorData =
  | { type: 'int64'; data: BigInt64Array; dims: readonly number[] }
  | { type: 'float32'; data: Float32Array; dims: readonly number[] }
  | { type: 'float16'; data: Uint16Array; dims: readonly number[] };

/**
 * A file of weights stored beside an ONNX graph (ONNX external data). `path` is what the graph's tensors
 * name as their `location`: the file name relative to the graph's folder, e.g. `model.onnx_data`.
 */
export interface ExternalDataFile {
  path: string;
  data: Uint8Array;
}

export interface SessionOptions {
  /** The files the graph's external tensors live in (models over 2 GB must keep their weights outside the graph). */
  externalData?: readonly ExternalDataFile[];
}

/** One loaded ONNX graph on some runtime (onnxruntime-web on WebGPU in the browser, onnxruntime-node in tests). */
export interface InferenceSession {
  readonly inputNames: readonly string[];
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

/** Creates sessions from ONNX bytes; `what` names the graph in error messages ("the SAE encoder at …"). */
export interface InferenceBackend {
  createSession(bytes: Uint8Array, what: string, options?: SessionOptions): Promise<InferenceSession>;
}

/** A text tokenizer: ids without special tokens added, and text back from ids. */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** A hub repo at a revision; the real hub when `hubUrl` is undefined, `main` when `revision` is. */
export interface RepoRef {
  /** `owner/name`, e.g. "Xenova/gpt2". */
  repo: string;
  hubUrl?: string;
  revision?: string;
}

/** A float tensor read back from the GPU: [batch, seq, width] or [batch, seq, vocab]. */
export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

/** The whole model with its language-model head, as a library loads it (a check of the export, not the pipeline). */
export interface CausalLm {
  /** Logits [batch, seq, vocab] of right-padded rows. */
  logits(rows: number[][]): Promise<FloatTensor>;
  dispose(): Promise<void>;
}

/**
 * What the engine needs from the platform: the GPU, sessions on it, and the full model for logits.
 * The browser's is in runtime/ (onnxruntime-web on WebGPU); Node tests pass one on onnxruntime-node.
 */
export interface EngineRuntime {
  detectGpu(): Promise<WebGpuStatus>;
  backend: InferenceBackend;
  /** The GPU device the sessions run on, undefined before the first session exists. */
  gpuDevice(): Promise<string | undefined>;
  loadCausalLm(model: Required<RepoRef>): Promise<CausalLm>;
}
