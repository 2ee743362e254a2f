/** What the engine worker offers the page. The page holds a comlink proxy of this interface. */
import type { LogitsResult, ModelLoadEvent } from '../src/lib/runtime/onnx-runtime.ts';
import type { WebGpuStatus } from '../src/lib/runtime/webgpu.ts';

export type { LogitsResult, ModelLoadEvent, WebGpuStatus };

export interface ModelSource {
  /** Hub repo id, e.g. "onnx-community/gpt2" or "autointerp-test/tiny-gpt2". */
  repo: string;
  /** Hub base URL; the real hub by default. Tests and the demo mode point it at a stand-in. */
  hubUrl?: string;
  revision?: string;
}

export interface LoadedModel {
  repo: string;
  modelType: string;
  nLayer: number;
  dModel: number;
  nHead: number;
  vocabSize: number;
  /** The GPU device onnxruntime runs the model on (adapter vendor/architecture). */
  gpuDevice: string;
}

export interface EngineApi {
  /** The WebGPU adapter as the worker sees it. */
  webgpu(): Promise<WebGpuStatus>;
  loadModel(source: ModelSource, onEvent?: (event: ModelLoadEvent) => void): Promise<LoadedModel>;
  /** Full forward of the loaded model on right-padded rows: logits [batch, seq, vocab]. */
  logits(rows: number[][]): Promise<LogitsResult>;
}
