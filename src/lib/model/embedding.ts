/**
 * GPT-2's token embedding read from its ONNX export. GPT-2 ties its unembedding to it (W_U = W_E^T),
 * so it is also what turns a residual direction into logits: the feature pages' logit effects.
 */
import { AppError } from '../errors.ts';
import { decodeModel, decodeTensorHeader, float16BitsToFloat32, tensorBytes, TensorDataType } from '../formats/index.ts';
import type { ExternalDataFile } from '../types.ts';

/** [vocab, dim] row-major: row t is token t's embedding. */
export interface TokenEmbedding {
  data: Float32Array;
  vocab: number;
  dim: number;
}

export function tokenEmbedding(onnx: Uint8Array, externalData: readonly ExternalDataFile[] = []): TokenEmbedding {
  const tensor = decodeModel(onnx).graph.initializers.find((t) => /wte\.weight$/.test(t.name) && t.dims.length === 2);
  if (!tensor) throw new AppError('onnx/missing-tensor', 'The model has no token embedding (transformer.wte.weight), so its logit effects cannot be computed.');
  const [vocab, dim] = tensor.dims as [number, number];
  const { dataType } = decodeTensorHeader(tensor.proto);
  const bytes = tensorBytes(tensor, externalData);
  if (!bytes || (dataType !== TensorDataType.FLOAT && dataType !== TensorDataType.FLOAT16)) {
    throw new AppError('onnx/malformed', `The token embedding ${tensor.name} is not stored as float32 or float16 raw data.`);
  }
  // Copied: a view into the model's bytes may be unaligned.
  const copy = bytes.slice();
  const data = dataType === TensorDataType.FLOAT ? new Float32Array(copy.buffer, 0, vocab * dim) : float16BitsToFloat32(new Uint16Array(copy.buffer, 0, vocab * dim));
  return { data, vocab, dim };
}
