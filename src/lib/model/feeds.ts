/** The inputs a GPT-2 export (or its cut) expects, built from token rows. */
import { AppError } from '../errors.ts';
import type { TensorData } from '../types.ts';

export interface HeadShape {
  nHeads: number;
  dHead: number;
}

/**
 * input_ids, a full attention mask, positions 0..seq-1 and empty past key/values (for exports with a
 * KV cache), for whichever of these the graph takes.
 */
export function tokenFeeds(inputNames: readonly string[], rows: readonly (readonly number[])[], shape: HeadShape): Record<string, TensorData> {
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
  const feeds: Record<string, TensorData> = {};
  for (const name of inputNames) {
    if (name === 'input_ids') feeds[name] = { type: 'int64', data: ids, dims: [batch, seq] };
    else if (name === 'attention_mask') feeds[name] = { type: 'int64', data: new BigInt64Array(batch * seq).fill(1n), dims: [batch, seq] };
    else if (name === 'position_ids') feeds[name] = { type: 'int64', data: positions, dims: [batch, seq] };
    else if (name.startsWith('past_key_values.')) feeds[name] = { type: 'float32', data: new Float32Array(0), dims: [batch, shape.nHeads, 0, shape.dHead] };
  }
  return feeds;
}
