/**
 * An onnxruntime-web session on the WebGPU execution provider, created and run through the one serial
 * queue, and fed the way a cut GPT-2 graph expects.
 */
import { AppError } from '../errors.ts';
import { gpuQueue, ort } from './onnx-runtime.ts';

export interface ModelShape {
  nHeads: number;
  dHead: number;
}

export class OrtSession {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(bytes: Uint8Array, what: string): Promise<OrtSession> {
    try {
      // Severity 3 (errors only): onnxruntime warns that it keeps shape ops on the CPU, on purpose; that is not the user's concern.
      const session = await gpuQueue.run(() => ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 }));
      return new OrtSession(session);
    } catch (error) {
      throw new AppError('model/load-failed', `Could not start ${what} on the GPU: ${(error as Error).message}`);
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /** Runs equal-length token rows; `extra` adds feeds such as the SAE's TopK cap. */
  async run(rows: number[][], shape: ModelShape, extra: Record<string, ort.Tensor> = {}): Promise<Record<string, ort.Tensor>> {
    const feeds = { ...tokenFeeds(this.session.inputNames, rows, shape), ...extra };
    return gpuQueue.run(() => this.session.run(feeds));
  }

  release(): Promise<void> {
    return gpuQueue.run(() => this.session.release());
  }
}

/** input_ids, a full attention mask, positions 0..seq-1 and empty past key/values (for exports with a KV cache). */
export function tokenFeeds(inputNames: readonly string[], rows: number[][], shape: ModelShape): Record<string, ort.Tensor> {
  const batch = rows.length;
  const seq = rows[0]?.length ?? 0;
  if (batch === 0 || seq === 0 || rows.some((r) => r.length !== seq)) {
    throw new AppError('model/load-failed', 'Token rows must be non-empty and of equal length.');
  }
  const ids = new BigInt64Array(batch * seq);
  const positions = new BigInt64Array(batch * seq);
  rows.forEach((row, b) => row.forEach((id, t) => {
    ids[b * seq + t] = BigInt(id);
    positions[b * seq + t] = BigInt(t);
  }));
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputNames) {
    if (name === 'input_ids') feeds[name] = new ort.Tensor('int64', ids, [batch, seq]);
    else if (name === 'attention_mask') feeds[name] = new ort.Tensor('int64', new BigInt64Array(batch * seq).fill(1n), [batch, seq]);
    else if (name === 'position_ids') feeds[name] = new ort.Tensor('int64', positions, [batch, seq]);
    else if (name.startsWith('past_key_values.')) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [batch, shape.nHeads, 0, shape.dHead]);
  }
  return feeds;
}
