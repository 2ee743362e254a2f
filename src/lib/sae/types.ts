/**
 * Records shared by the SAE loader, the reference encoder and (later) the GPU encoder.
 * Everything here is plain data: no DOM, no classes, safe to send across a worker boundary.
 */
import type { Dtype } from '../formats/index.ts';

export type { Dtype };

/** Where an SAE comes from; decides the defaults for everything the weights do not say. */
export type SaeFormat = 'saelens' | 'sparsify' | 'gemmascope' | 'openai';

/** How pre-activations become feature activations. */
export type SaeArchitecture = 'relu' | 'jumprelu' | 'topk' | 'gated';

/** Input normalization applied to each token's hook activation before `b_dec` is subtracted. */
export type SaeNormalization = 'none' | 'layer_norm' | 'constant_norm_rescale' | 'expected_average_only_in';

/** One dropped file. A browser `File` is a `Blob`; paths use `/` (webkitRelativePath or the name). */
export interface SaeInputFile {
  path: string;
  blob: Blob;
}

/**
 * Everything needed to run an SAE, normalized across formats. `missing` and `assumed` hold names of
 * the fields of this record (e.g. `'hookName'`, `'k'`, `'centerResidual'`).
 */
export interface SaeSpec {
  format: SaeFormat;
  architecture: SaeArchitecture;
  dIn: number;
  width: number;
  /** Number of active features, for `topk` only. */
  k?: number;
  /** dtype of the encoder weights in the file. */
  dtype: Dtype;
  /** Size of the weights file in bytes. */
  bytes: number;
  /** TransformerLens hook name, e.g. 'blocks.6.hook_resid_pre'; undefined = ask the user. */
  hookName?: string;
  /** Head index for per-head `attn.hook_z` SAEs; null (or undefined) = all heads flattened. */
  hookHeadIndex?: number | null;
  normalizeActivations: SaeNormalization;
  /** Scale for `expected_average_only_in` when known; undefined = must be estimated from the corpus. */
  normalizationScale?: number;
  applyBDecToInput: boolean;
  prependBos: boolean;
  rescaleActsByDecoderNorm: boolean;
  /**
   * Subtract each token's mean over d_model before encoding (what TransformerLens's
   * `center_writing_weights` does to the residual stream). undefined = unknown: the user chooses.
   */
  centerResidual?: boolean;
  /**
   * The encoder's arithmetic on the GPU: absent for float32 (exact: within 1e-4 of the reference), or
   * 'float16' (half the weight memory, faster where the adapter has shader-f16; approximate). Only what
   * the user chose: no file says it.
   */
  encoderPrecision?: 'float16';
  modelName?: string;
  contextSize?: number;
  /** Fields that could not be read or inferred and that the user must set before encoding. */
  missing: string[];
  /** Fields that were filled with a guess (a format default, a path name); show them as editable. */
  assumed: string[];
  warnings: string[];
}

/** The tensor names of the canonical weights. */
export type CanonicalTensor = 'wEnc' | 'bEnc' | 'wDec' | 'bDec' | 'threshold' | 'bGate' | 'rMag' | 'bMag';

/**
 * Weights in one layout for every format, float32.
 * For gated SAEs `bEnc` is `b_gate` (the bias of the pre-activation that decides which features fire).
 */
export interface SaeWeights {
  /** [dIn, width] row-major. */
  wEnc: Float32Array;
  /** [width] */
  bEnc: Float32Array;
  /** [width, dIn] row-major. */
  wDec: Float32Array;
  /** [dIn] */
  bDec: Float32Array;
  /** [width], jumprelu. */
  threshold?: Float32Array;
  /** [width], gated. */
  bGate?: Float32Array;
  /** [width], gated. */
  rMag?: Float32Array;
  /** [width], gated. */
  bMag?: Float32Array;
}
