/**
 * The only module that imports onnxruntime-web and transformers.js. Both share one onnxruntime
 * instance (transformers.js imports the same `onnxruntime-web/webgpu` entry) and so one GPU device.
 * The wasm runtime is served from our own origin: transformers.js would otherwise fetch it from a CDN,
 * which fails offline and leaks requests to a third party.
 */
import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import * as ort from 'onnxruntime-web/webgpu';
import wasmFactoryUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import wasmBinaryUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { AppError } from '../errors.ts';
import { SerialQueue } from './serial-queue.ts';

export { ort };

export const HUGGING_FACE_HUB = 'https://huggingface.co/';

/** Every onnxruntime call in this worker goes through this queue (see serial-queue.ts). */
export const gpuQueue = new SerialQueue();

const absolute = (url: string) => new URL(url, self.location.href).href;
env.backends.onnx.wasm!.wasmPaths = { mjs: absolute(wasmFactoryUrl), wasm: absolute(wasmBinaryUrl) };
env.allowLocalModels = false;

/** Points model downloads at a hub (the real one, or a stand-in with the same URL shape). */
export function useHub(hubUrl: string): void {
  env.remoteHost = hubUrl.endsWith('/') ? hubUrl : `${hubUrl}/`;
  env.remotePathTemplate = '{model}/resolve/{revision}/';
  env.allowRemoteModels = true;
}

export type ModelLoadEvent =
  | { kind: 'file'; file: string; loaded: number; total: number }
  | { kind: 'file-done'; file: string }
  | { kind: 'ready' };

interface TransformersProgress {
  status: string;
  file?: string;
  loaded?: number;
  total?: number;
}

function toLoadEvent(info: TransformersProgress): ModelLoadEvent | undefined {
  if (info.status === 'progress' && info.file) {
    return { kind: 'file', file: info.file, loaded: info.loaded ?? 0, total: info.total ?? 0 };
  }
  if (info.status === 'done' && info.file) return { kind: 'file-done', file: info.file };
  if (info.status === 'ready') return { kind: 'ready' };
  return undefined;
}

/** Loads a causal LM from the hub onto the WebGPU execution provider, in float32. */
export async function loadCausalLm(repo: string, revision: string, onEvent?: (event: ModelLoadEvent) => void): Promise<PreTrainedModel> {
  try {
    return await gpuQueue.run(() =>
      AutoModelForCausalLM.from_pretrained(repo, {
        revision,
        device: 'webgpu',
        dtype: 'fp32',
        progress_callback: (info: TransformersProgress) => {
          const event = toLoadEvent(info);
          if (event) onEvent?.(event);
        },
      }),
    );
  } catch (error) {
    throw new AppError('model/load-failed', `Could not load "${repo}" (revision ${revision}) from ${env.remoteHost}: ${(error as Error).message}. Check the repo id and that it has an ONNX export (onnx/model.onnx).`);
  }
}

/**
 * The label of the GPU device onnxruntime's WebGPU backend created, or undefined when no session has
 * initialised the WebGPU backend (so a model that "loaded" did not actually land on the GPU).
 */
export async function webgpuBackendDevice(): Promise<string | undefined> {
  const pending = ort.env.webgpu.device as Promise<GPUDevice> | GPUDevice | undefined;
  const device = await Promise.race([Promise.resolve(pending), new Promise<undefined>((done) => setTimeout(done, 1000))]);
  if (!device) return undefined;
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'webgpu' : 'webgpu';
}

export interface LogitsResult {
  dims: number[];
  data: Float32Array;
}

/** Runs the full model on right-padded token rows and returns the logits [batch, seq, vocab]. */
export async function runLogits(model: PreTrainedModel, rows: number[][]): Promise<LogitsResult> {
  const batch = rows.length;
  const seq = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(batch * seq);
  const mask = new BigInt64Array(batch * seq);
  rows.forEach((row, b) => row.forEach((id, t) => {
    ids[b * seq + t] = BigInt(id);
    mask[b * seq + t] = 1n;
  }));
  const output = await gpuQueue.run(() =>
    (model as unknown as (inputs: Record<string, Tensor>) => Promise<{ logits: Tensor }>)({
      input_ids: new Tensor('int64', ids, [batch, seq]),
      attention_mask: new Tensor('int64', mask, [batch, seq]),
    }),
  );
  const logits = output.logits;
  return { dims: [...logits.dims], data: new Float32Array(logits.data as Float32Array) };
}
