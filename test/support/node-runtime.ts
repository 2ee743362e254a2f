/**
 * An EngineRuntime on onnxruntime-node (CPU), so that the worker's Engine (workers/engine/engine.ts)
 * runs in Node tests: the same ONNX graphs, feeds and outputs as onnxruntime-web on WebGPU in the
 * browser (src/lib/runtime/), with a stand-in adapter record instead of a GPU.
 */
import * as ort from 'onnxruntime-node';
import {
  AppError, float16BitsToFloat32, loadGpt2, modelDims, pastKeyValuesType, tokenFeeds,
  type CausalLm, type EngineRuntime, type FloatTensor, type HeadShape, type InferenceBackend, type InferenceSession, type PastType, type RepoRef,
  type TensorData, type WebGpuAdapterInfo, type WebGpuStatus,
} from '../../src/lib/index.ts';

export interface NodeRuntimeOptions {
  /** Adapter limits to report (tests lower maxBufferSize to make the engine split W_enc). */
  limits?: Partial<WebGpuAdapterInfo['limits']>;
  /** Adapter features to report: ['shader-f16'] lets the engine load float16 exports (onnxruntime-node runs them on the CPU). */
  features?: string[];
  /** What detectGpu answers instead of the stand-in adapter (e.g. a WebGpuMissing record). */
  gpu?: WebGpuStatus;
  /** Used for the full model's downloads in loadCausalLm (default: global fetch). */
  fetch?: typeof fetch;
}

/** The label gpuDevice() gives once a session exists. */
export const NODE_DEVICE = 'onnxruntime-node cpu';

/** The project's tensor as an onnxruntime-node tensor (float16 as its bits in a Uint16Array, as onnxruntime takes it). */
export function toOrt(tensor: TensorData): ort.Tensor {
  switch (tensor.type) {
    case 'int64': return new ort.Tensor('int64', tensor.data, tensor.dims);
    case 'float32': return new ort.Tensor('float32', tensor.data, tensor.dims);
    case 'float16': return new ort.Tensor('float16', tensor.data, tensor.dims);
  }
}

/** An onnxruntime-node output as the project's tensor; other element types are refused as the browser's backend refuses them. */
export function fromOrt(tensor: ort.Tensor): TensorData {
  if (tensor.type !== 'int64' && tensor.type !== 'float32' && tensor.type !== 'float16') {
    throw new AppError('onnx/malformed', `The graph returned a ${tensor.type} tensor; the engine reads float32, float16 and int64 outputs.`);
  }
  return { type: tensor.type, data: tensor.data, dims: [...tensor.dims] } as TensorData;
}

/** An onnxruntime-node session behind the project's InferenceSession. */
function nodeSession(session: ort.InferenceSession): InferenceSession {
  return {
    inputNames: session.inputNames,
    async run(feeds) {
      const outputs = await session.run(Object.fromEntries(Object.entries(feeds).map(([name, tensor]) => [name, toOrt(tensor)])));
      return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, fromOrt(tensor)]));
    },
    release: () => session.release(),
  };
}

/** Logits of right-padded rows: padding is id 0 with attention mask 0, as transformers.js feeds it. float16 logits are widened. */
async function paddedLogits(session: InferenceSession, rows: number[][], shape: HeadShape, pastType: PastType): Promise<FloatTensor> {
  const seq = Math.max(...rows.map((r) => r.length));
  const padded = rows.map((row) => [...row, ...new Array<number>(seq - row.length).fill(0)]);
  const feeds = tokenFeeds(session.inputNames, padded, shape, pastType);
  if (feeds.attention_mask) {
    feeds.attention_mask = { type: 'int64', data: BigInt64Array.from(rows.flatMap((row) => Array.from({ length: seq }, (_, t) => (t < row.length ? 1n : 0n)))), dims: [rows.length, seq] };
  }
  const logits = (await session.run(feeds)).logits;
  if (logits?.type === 'float16') return { dims: [...logits.dims], data: float16BitsToFloat32(logits.data) };
  if (logits?.type !== 'float32') throw new AppError('onnx/malformed', 'The full model has no float32 or float16 "logits" output.');
  return { dims: [...logits.dims], data: logits.data };
}

export function createNodeRuntime(options: NodeRuntimeOptions = {}): EngineRuntime {
  let sessions = 0;
  const backend: InferenceBackend = {
    async createSession(bytes, what, sessionOptions = {}) {
      try {
        // onnxruntime-node takes external data from memory, as onnxruntime-web does.
        const externalData = sessionOptions.externalData?.length ? { externalData: sessionOptions.externalData.map(({ path, data }) => ({ path, data })) } : {};
        const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3, ...externalData });
        sessions++;
        return nodeSession(session);
      } catch (error) {
        throw new AppError('model/load-failed', `Could not start ${what} on onnxruntime-node: ${(error as Error).message}`);
      }
    },
  };
  const adapter: WebGpuAdapterInfo = {
    available: true,
    vendor: 'onnxruntime-node',
    architecture: 'cpu',
    device: '',
    description: 'onnxruntime-node on the CPU (Node tests)',
    isFallback: true,
    features: options.features ?? [],
    limits: { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31, maxComputeWorkgroupStorageSize: 32768, ...options.limits },
  };
  return {
    detectGpu: async () => options.gpu ?? adapter,
    backend,
    // As in the browser: no device before the first session exists.
    gpuDevice: async () => (sessions > 0 ? NODE_DEVICE : undefined),
    async loadCausalLm(model: Required<RepoRef>): Promise<CausalLm> {
      // The same file the engine cuts (whichever name, external data, float16 where the adapter says so).
      const { config, onnx, externalData } = await loadGpt2(model, { shaderF16: adapter.features.includes('shader-f16'), cache: null, ...(options.fetch ? { fetch: options.fetch } : {}) });
      const session = await backend.createSession(onnx, `the full model "${model.repo}"`, { externalData });
      const shape = modelDims(config);
      const pastType = pastKeyValuesType(onnx);
      return { logits: (rows) => paddedLogits(session, rows, shape, pastType), dispose: () => session.release() };
    },
  };
}
