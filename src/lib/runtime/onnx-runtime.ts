/**
 * The only module that imports onnxruntime-web and transformers.js. Both share one onnxruntime
 * instance (transformers.js imports the same `onnxruntime-web/webgpu` entry) and so one GPU device.
 * Nothing happens on import: `startWebRuntime()` (called where a worker starts) points the wasm
 * runtime at our own origin, since transformers.js would otherwise fetch it from a CDN, which fails
 * offline and leaks requests to a third party.
 */
import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import * as ort from 'onnxruntime-web/webgpu';
import wasmFactoryUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import wasmBinaryUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { AppError } from '../errors.ts';
import { hubBase } from '../hub/index.ts';
import type { CausalLm, FloatTensor, RepoRef } from '../types.ts';
import { SerialQueue } from '../util/index.ts';

export { ort };

/** Every onnxruntime call in this worker goes through this queue (see serial-queue.ts). */
export const gpuQueue = new SerialQueue();

let started = false;

/** Points the wasm runtime at this origin; models come from the hub named per load. Idempotent. */
export function startWebRuntime(baseUrl: string): void {
  if (started) return;
  started = true;
  const absolute = (url: string) => new URL(url, baseUrl).href;
  env.backends.onnx.wasm!.wasmPaths = { mjs: absolute(wasmFactoryUrl), wasm: absolute(wasmBinaryUrl) };
  env.allowLocalModels = false;
}

/** Loads a causal LM from the hub onto the WebGPU execution provider, in float32. */
export async function loadCausalLm(model: Required<RepoRef>): Promise<CausalLm> {
  env.remoteHost = hubBase(model.hubUrl);
  env.remotePathTemplate = '{model}/resolve/{revision}/';
  env.allowRemoteModels = true;
  let loaded: PreTrainedModel;
  try {
    loaded = await gpuQueue.run(() => AutoModelForCausalLM.from_pretrained(model.repo, { revision: model.revision, device: 'webgpu', dtype: 'fp32' }));
  } catch (error) {
    throw new AppError('model/load-failed', `Could not load "${model.repo}" (revision ${model.revision}) from ${env.remoteHost} with transformers.js: ${(error as Error).message}.`);
  }
  return {
    logits: (rows) => runLogits(loaded, rows),
    dispose: async () => {
      await loaded.dispose();
    },
  };
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

/** Runs the full model on right-padded token rows and returns the logits [batch, seq, vocab]. */
async function runLogits(model: PreTrainedModel, rows: number[][]): Promise<FloatTensor> {
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
