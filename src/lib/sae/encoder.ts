/**
 * Encoding token rows with a built encoder graph (model cut at the hook + SAE): only the sparse result
 * comes back. For ReLU-like SAEs the graph returns the top `cap` activations per token and each token's
 * true count of active features; when a count exceeds the cap, the cap grows (to the next power of
 * two) and the batch runs again, so no activation is ever dropped. The cap never shrinks.
 */
import { AppError } from '../errors.ts';
import { tokenFeeds, type HeadShape } from '../model/index.ts';
import type { InferenceSession, SparseActivations, TensorData } from '../types.ts';
import { SAE_K_INPUT, SAE_OUTPUTS } from './encode-graph.ts';
import { packTopK } from './sparse.ts';
import type { SaeSpec } from './types.ts';

/** Starting cap on active features per token for ReLU-like SAEs (GPT-2 SAEs have L0 around 20-100). */
export const INITIAL_CAP = 64;

function output(outputs: Record<string, TensorData>, name: string): TensorData {
  const tensor = outputs[name];
  if (!tensor) throw new AppError('onnx/missing-tensor', `The encoder graph returned no ${name}.`);
  return tensor;
}

export class SaeEncoder {
  private capNow: number;

  constructor(
    private readonly session: InferenceSession,
    readonly spec: SaeSpec,
    private readonly shape: HeadShape,
    initialCap = INITIAL_CAP,
  ) {
    if (spec.architecture === 'topk' && !spec.k) throw new AppError('sae/bad-config', 'A TopK SAE needs k before encoding.');
    this.capNow = spec.architecture === 'topk' ? spec.k! : Math.max(1, Math.min(initialCap, spec.width));
  }

  /** k for a TopK SAE; the current cap on active features per token for the others. */
  get cap(): number {
    return this.capNow;
  }

  /** Every non-zero activation of equal-length token rows, exactly (CSR over batch * seq tokens). */
  async encode(rows: readonly (readonly number[])[]): Promise<SparseActivations> {
    const feeds = tokenFeeds(this.session.inputNames, rows, this.shape);
    const tokens = rows.length * (rows[0]?.length ?? 0);
    for (;;) {
      const k = this.capNow;
      const outputs = await this.session.run({ ...feeds, [SAE_K_INPUT]: { type: 'int64', data: BigInt64Array.from([BigInt(k)]), dims: [1] } });
      const values = output(outputs, SAE_OUTPUTS.values).data as Float32Array;
      const indices = output(outputs, SAE_OUTPUTS.indices).data as BigInt64Array;
      if (this.spec.architecture !== 'topk') {
        const counts = output(outputs, SAE_OUTPUTS.activeCount).data as Float32Array;
        const most = counts.reduce((m, c) => Math.max(m, c), 0);
        if (most > k) {
          this.capNow = Math.min(this.spec.width, 2 ** Math.ceil(Math.log2(most)));
          continue;
        }
      }
      return packTopK(values, indices, tokens, k);
    }
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
