/**
 * onnxruntime-web sessions on the WebGPU execution provider, created and run through the one serial
 * queue: the browser's InferenceBackend.
 */
import { AppError } from '../errors.ts';
import type { InferenceBackend, InferenceSession, TensorData } from '../types.ts';
import { gpuQueue, ort } from './onnx-runtime.ts';

function toOrt(tensor: TensorData): ort.Tensor {
  switch (tensor.type) {
    case 'int64': return new ort.Tensor('int64', tensor.data, tensor.dims);
    case 'float32': return new ort.Tensor('float32', tensor.data, tensor.dims);
    // onnxruntime-web takes float16 bits as a Uint16Array even where the browser has Float16Array.
    case 'float16': return new ort.Tensor('float16', tensor.data, tensor.dims);
  }
}

function fromOrt(tensor: ort.Tensor): TensorData {
  if (tensor.type === 'int64') return { type: 'int64', data: tensor.data as BigInt64Array, dims: [...tensor.dims] };
  if (tensor.type === 'float32') return { type: 'float32', data: tensor.data as Float32Array, dims: [...tensor.dims] };
  if (tensor.type === 'float16') {
    // A Float16Array where the browser has one: its bits, as the project keeps float16.
    const data = tensor.data as Uint16Array;
    return { type: 'float16', data: new Uint16Array(data.buffer, data.byteOffset, data.length), dims: [...tensor.dims] };
  }
  throw new AppError('onnx/malformed', `The graph returned a ${tensor.type} tensor; the engine reads float32, float16 and int64 outputs.`);
}

class OrtSession implements InferenceSession {
  constructor(private readonly session: ort.InferenceSession) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  async run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([name, tensor]) => [name, toOrt(tensor)]));
    const outputs = await gpuQueue.run(() => this.session.run(inputs));
    return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, fromOrt(tensor)]));
  }

  release(): Promise<void> {
    return gpuQueue.run(() => this.session.release());
  }
}

export const webgpuBackend: InferenceBackend = {
  async createSession(bytes, what, options = {}) {
    try {
      // Severity 3 (errors only): onnxruntime warns that it keeps shape ops on the CPU, on purpose; that is not the user's concern.
      const externalData = options.externalData?.length ? { externalData: options.externalData.map(({ path, data }) => ({ path, data })) } : {};
      const session = await gpuQueue.run(() => ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3, ...externalData }));
      return new OrtSession(session);
    } catch (error) {
      throw new AppError('model/load-failed', `Could not start ${what} on the GPU: ${(error as Error).message}`);
    }
  },
};
