/**
 * Builds the ONNX model the activation engine runs for an SAE: GPT-2 cut at the SAE's hook point,
 * followed by the SAE encoder. Pure byte-in, byte-out, so the same code is checked in Node (onnxruntime-node) and
 * runs in the worker (onnxruntime-web on WebGPU).
 */
import { AppError } from '../errors.ts';
import { decodeModel } from '../formats/index.ts';
import { cutAt, defaultOpset, finishModel, modelDModel, valueBias, type BuiltModel } from '../model/index.ts';
import type { ExternalDataFile } from '../types.ts';
import { appendSaeEncoder, SAE_OUTPUTS } from './encode-graph.ts';
import type { SaeSpec, SaeWeights } from './types.ts';

/**
 * SAELens trains on TransformerLens models, which fold the value bias b_V out of hook_z (into b_O), so
 * its hook_z SAEs expect z without b_V. Hugging Face graphs include it; the encoder subtracts it.
 */
export function expectsFoldedValueBias(spec: Pick<SaeSpec, 'format' | 'hookName'>): boolean {
  return spec.format === 'saelens' && /\.attn\.hook_z$/.test(spec.hookName ?? '');
}

export interface EncoderModelOptions {
  /** Largest single weight tensor in bytes (the device's buffer limit, with margin). */
  maxTensorBytes: number;
  /** The files loaded beside the graph, for exports that keep their weights there (the value bias is read from them). */
  externalData?: readonly ExternalDataFile[];
}

/**
 * The model cut at the SAE's hook point with the SAE encoder appended; outputs the sparse result. The
 * encoder is float32 whatever the export's precision (a float16 export's hook is cast first).
 */
export function buildEncoderModel(modelBytes: Uint8Array, spec: SaeSpec, weights: SaeWeights, options: EncoderModelOptions): BuiltModel {
  if (!spec.hookName) throw new AppError('sae/bad-config', 'Choose the hook point the SAE reads before encoding.');
  const model = decodeModel(modelBytes);
  const { hook, tensor } = cutAt(model, spec.hookName);
  const dModel = modelDModel(model.graph);
  const bias = expectsFoldedValueBias(spec) && dModel ? valueBias(model.graph, hook.layer, dModel, options.externalData) : undefined;
  const head = spec.hookHeadIndex !== null && spec.hookHeadIndex !== undefined && dModel
    ? { index: spec.hookHeadIndex, dHead: spec.dIn }
    : undefined;
  appendSaeEncoder(model.graph, tensor, spec, weights, {
    opset: defaultOpset(model),
    maxTensorBytes: options.maxTensorBytes,
    ...(bias ? { valueBias: bias } : {}),
    ...(head ? { head } : {}),
  });
  const outputs = spec.architecture === 'topk' ? [SAE_OUTPUTS.values, SAE_OUTPUTS.indices] : [SAE_OUTPUTS.values, SAE_OUTPUTS.indices, SAE_OUTPUTS.activeCount];
  return finishModel(model, hook, outputs);
}
