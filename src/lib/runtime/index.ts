/**
 * The browser's engine runtime: onnxruntime-web on WebGPU. Only worker entry files import this door
 * (it pulls in onnxruntime-web and transformers.js); everything else takes an EngineRuntime.
 */
import type { EngineRuntime } from '../types.ts';
import { detectWebGpu } from '../util/index.ts';
import { loadCausalLm, startWebRuntime, webgpuBackendDevice } from './onnx-runtime.ts';
import { webgpuBackend } from './ort-session.ts';



/** Starts the runtime; `baseUrl` resolves the wasm files' URLs (the worker module's `import.meta.url`: a worker started from a blob: URL has no usable location). */
export function createWebRuntime(baseUrl: string): EngineRuntime {
  startWebRuntime(baseUrl);
  return { detectGpu: detectWebGpu, backend: webgpuBackend, gpuDevice: webgpuBackendDevice, loadCausalLm };
}
