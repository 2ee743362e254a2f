/** The engine worker's implementation: thin glue from the API to the core in src/lib. */
import type { PreTrainedModel } from '@huggingface/transformers';
import { AppError } from '../src/lib/errors.ts';
import { HUGGING_FACE_HUB, loadCausalLm, runLogits, useHub, webgpuBackendDevice } from '../src/lib/runtime/onnx-runtime.ts';
import { detectWebGpu } from '../src/lib/runtime/webgpu.ts';
import type { EngineApi, LoadedModel, LogitsResult, ModelLoadEvent, ModelSource, WebGpuStatus } from './engine-api.ts';

export class Engine implements EngineApi {
  private model: PreTrainedModel | undefined;

  webgpu(): Promise<WebGpuStatus> {
    return detectWebGpu();
  }

  async loadModel(source: ModelSource, onEvent?: (event: ModelLoadEvent) => void): Promise<LoadedModel> {
    const gpu = await detectWebGpu();
    if (!gpu.available) throw new AppError('webgpu/unavailable', `${gpu.reason} ${gpu.advice}`);
    useHub(source.hubUrl ?? HUGGING_FACE_HUB);
    await this.model?.dispose();
    this.model = undefined;
    const model = await loadCausalLm(source.repo, source.revision ?? 'main', onEvent);
    this.model = model;
    const gpuDevice = await webgpuBackendDevice();
    if (!gpuDevice) throw new AppError('webgpu/unavailable', 'The model loaded, but onnxruntime did not create a WebGPU device for it. Reload the page; if it persists, the GPU process may have crashed.');
    const config = model.config as unknown as Record<string, number | string>;
    return {
      repo: source.repo,
      modelType: String(config.model_type),
      nLayer: Number(config.n_layer),
      dModel: Number(config.n_embd),
      nHead: Number(config.n_head),
      vocabSize: Number(config.vocab_size),
      gpuDevice,
    };
  }

  async logits(rows: number[][]): Promise<LogitsResult> {
    if (!this.model) throw new AppError('model/load-failed', 'No model is loaded: load one before running it.');
    return runLogits(this.model, rows);
  }
}
