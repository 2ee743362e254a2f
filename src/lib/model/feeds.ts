/** The inputs a GPT-2 export (or its cut) expects, built from token rows. */
import { AppError } from '../errors.ts';
import { decodeModel, TensorDataType } from '../formats/index.ts';
import type { TensorData } from '../types.ts';

export interface HeadShape {
  nHeads: number;
  dHead: number;
}

/** The element type of a graph's past_key_values inputs: a float16 export takes float16 ones. */
export type PastType = 'float32' | 'float16';

/**
 * The type a graph wants its past_key_values fed in, read from its inputs (the graphs the engine builds
 * widen them to float32; a float16 export run whole takes float16).
 */
export function pastKeyValuesType(modelBytes: Uint8Array): PastType {
  const past = decodeModel(modelBytes).graph.inputs.find((i) => i.name.startsWith('past_key_values.'));
  return past?.elemType === TensorDataType.FLOAT16 ? 'float16' : 'float32';
}

/**
 * input_ids, a full attention mask, positions 0..seq-1 and empty past key/values (for exports with a
 * KV cache, in `pastType`), for whichever of these the graph takes.
 */
export function tokenFeeds(inputNames: readonly string[], rows: readonly (readonly number[])[], shape: HeadShape, pastType: PastType = 'float32'): Record<string, TensorData> {
  const batch = rows.length;
  const seq = rows[0]?.length ?? 0;
  if (batch === 0 || seq === 0 || rows.some((r) => r.length !== seq)) {
    throw new AppError('model/bad-input', 'Token rows must be non-empty and of equal length.');
  }
  const ids = new BigInt64Array(batch * seq);
  const positions = new BigInt64Array(batch * seq);
  rows.forEach((row, b) => row.forEach((id, t) => {
    ids[b * seq + t] = BigInt(id);
    positions[b * seq + t] = BigInt(t);
  }));
  const pastDims = [batch, shape.nHeads, 0, shape.dHead];
  const feeds: Record<string, TensorData> = {};
  for (const name of inputNames) {
    if (name === 'input_ids') feeds[name] = { type: 'int64', data: ids, dims: [batch, seq] };
    else if (name === 'attention_mask') feeds[name] = { type: 'int64', data: new BigInt64Array(batch * seq).fill(1n), dims: [batch, seq] };
    else if (name === 'position_ids') feeds[name] = { type: 'int64', data: positions, dims: [batch, seq] };
    else if (name.startsWith('past_key_values.')) {
      feeds[name] = pastType === 'float16' ? { type: 'float16', data: new Uint16Array(0), dims: pastDims } : { type: 'float32', data: new Float32Array(0), dims: pastDims };
    }
  }
  return feeds;
}
