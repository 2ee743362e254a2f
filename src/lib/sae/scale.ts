/**
 * The input scale of `expected_average_only_in` SAEs whose files do not give it: sqrt(d_in) over the
 * mean norm of the hook's activations, measured as the SAE would see them.
 */
import { estimateNormalizationScale } from './reference-encode.ts';
import type { SaeSpec } from './types.ts';

/**
 * `activations` are [rows, seq, dIn] at the SAE's hook. Centred first when the SAE expects it; BOS
 * positions (huge and unlike the rest of the text) are left out when rows start with BOS, as in training.
 */
export function estimateInputScale(activations: Float32Array, seq: number, spec: Pick<SaeSpec, 'dIn' | 'centerResidual' | 'prependBos'>): number {
  const { dIn } = spec;
  const x = activations.slice();
  if (spec.centerResidual) {
    for (let t = 0; t < x.length / dIn; t++) {
      const token = x.subarray(t * dIn, (t + 1) * dIn);
      const mean = token.reduce((a, b) => a + b, 0) / dIn;
      for (let i = 0; i < dIn; i++) token[i]! -= mean;
    }
  }
  const kept = spec.prependBos && seq > 1 ? x.filter((_, i) => Math.floor(i / dIn) % seq !== 0) : x;
  return estimateNormalizationScale(kept, dIn);
}
