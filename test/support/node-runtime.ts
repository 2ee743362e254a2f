/**
 * An EngineRuntime on onnxruntime-node (CPU), so that the worker's Engine (workers/engine/engine.ts)
 * runs in Node tests: the same ONNX graphs, feeds and outputs as onnxruntime-web on WebGPU in the
 * browser (src/lib/runtime/), with a stand-in adapter record instead of a GPU.
 */
import * as ort from 'onnxruntime-node';
import {
  AppError, downloadHubFile, modelDims, parseGpt2Config, tokenFeeds,
  type CausalLm, type EngineRuntime, type FloatTensor, type HeadShape, type InferenceBackend, type InferenceSession, type RepoRef, type TensorData,
  type WebGpuAdapterInfo, type WebGpuStatus,
} from '../../src/lib/index.ts';

export interface NodeRuntimeOptions {
  /** Adapter limits to report (tests lower maxBufferSize to make the engine split W_enc). */
  limits?: Partial<WebGpuAdapterInfo['limits']>;
  /** What detectGpu answers instead of the stand-in adapter (e.g. a WebGpuMissing record). */
  gpu?: WebGpuStatus;
  /** Used for the full model's downloads in loadCausalLm (default: global fetch). */
  fetch?: typeof fetch;
}

/** The label gpuDevice() gives once a session exists. */
export const NODE_DEVICE = 'onnxruntime-node cpu';

/** The project's tensor as an onnxruntime-node tensor (int64 and float32 are the types the engine feeds). */
export const toOrt = (tensor: TensorData): ort.Tensor => new ort.Tensor(tensor.type, tensor.data, tensor.dims);

/** An onnxruntime-node output as the project's tensor; other element types are refused as the browser's backend refuses them. */
export function fromOrt(tensor: ort.Tensor): TensorData {
  if (tensor.type !== 'int64' && tensor.type !== 'float32') {
    throw new AppError('onnx/malformed', `The graph returned a ${tensor.type} tensor; the engine reads float32 and int64 outputs.`);
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

/** Logits of right-padded rows: padding is id 0 with attention mask 0, as transformers.js feeds it. */
async function paddedLogits(session: InferenceSession, rows: number[][], shape: HeadShape): Promise<FloatTensor> {
  const seq = Math.max(...rows.map((r) => r.length));
  const padded = rows.map((row) => [...row, ...new Array<number>(seq - row.length).fill(0)]);
  const feeds = tokenFeeds(session.inputNames, padded, shape);
  if (feeds.attention_mask) {
    feeds.attention_mask = { type: 'int64', data: BigInt64Array.from(rows.flatMap((row) => Array.from({ length: seq }, (_, t) => (t < row.length ? 1n : 0n)))), dims: [rows.length, seq] };
  }
  const logits = (await session.run(feeds)).logits;
  if (logits?.type !== 'float32') throw new AppError('onnx/malformed', 'The full model has no float32 "logits" output.');
  return { dims: [...logits.dims], data: logits.data };
}

export function createNodeRuntime(options: NodeRuntimeOptions = {}): EngineRuntime {
  let sessions = 0;
  const backend: InferenceBackend = {
    async createSession(bytes, what) {
      try {
        const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
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
    features: [],
    limits: { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31, maxComputeWorkgroupStorageSize: 32768, ...options.limits },
  };
  return {
    detectGpu: async () => options.gpu ?? adapter,
    backend,
    // As in the browser: no device before the first session exists.
    gpuDevice: async () => (sessions > 0 ? NODE_DEVICE : undefined),
    async loadCausalLm(model: Required<RepoRef>): Promise<CausalLm> {
      const download = (path: string) => downloadHubFile({ ...model, path }, { cache: null, ...(options.fetch ? { fetch: options.fetch } : {}) });
      const config = parseGpt2Config(JSON.parse(new TextDecoder().decode(await download('config.json'))), model.repo);
      const session = await backend.createSession(await download('onnx/model.onnx'), `the full model "${model.repo}"`);
      const shape = modelDims(config);
      return { logits: (rows) => paddedLogits(session, rows, shape), dispose: () => session.release() };
    },
  };
}
