/**
 * Builds the ONNX models the activation engine runs: GPT-2 cut at a hook point, optionally followed by
 * an SAE encoder. Pure byte-in, byte-out, so the same code is checked in Node (onnxruntime-node) and
 * runs in the worker (onnxruntime-web on WebGPU).
 */
import { AppError } from '../errors.ts';
import { locateHook, modelDModel, valueBias, type HookTensor } from '../model/hook-graph.ts';
import { decodeModel, encodeModel, makeNode, pruneGraph, type OnnxModel } from '../model/onnx-proto.ts';
import { appendSaeEncoder, SAE_OUTPUTS } from './encode-graph.ts';
import type { SaeSpec, SaeWeights } from './types.ts';

/** Output name of a hook-only model. */
export const HOOK_OUTPUT = 'hook_activations';

export interface BuiltModel {
  bytes: Uint8Array;
  hook: HookTensor;
  /** Graph inputs the caller must feed (input_ids, attention_mask, position_ids, past_key_values.*, sae_k). */
  inputs: string[];
  outputs: string[];
}

function defaultOpset(model: OnnxModel): number {
  const opset = model.opsetImports.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!opset) throw new AppError('onnx/malformed', 'The model imports no ai.onnx opset.');
  return opset.version;
}

function finish(model: OnnxModel, hook: HookTensor, outputs: string[]): BuiltModel {
  pruneGraph(model.graph, model.graph.outputs.filter((o) => outputs.includes(o.name)), { pruneInputs: true });
  return { bytes: encodeModel(model), hook, inputs: model.graph.inputs.map((i) => i.name), outputs };
}

/** The model cut right after `hookName`, returning the hook's activations [batch, seq, width]. */
export function buildHookModel(modelBytes: Uint8Array, hookName: string): BuiltModel {
  const model = decodeModel(modelBytes);
  const hook = locateHook(model.graph, hookName);
  model.graph.nodes.push(makeNode('Identity', [hook.tensor], [HOOK_OUTPUT], { name: '/hook/Identity' }));
  model.graph.outputs = [{ name: HOOK_OUTPUT, elemType: 1 }];
  return finish(model, hook, [HOOK_OUTPUT]);
}

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
}

/** The model cut at the SAE's hook point with the SAE encoder appended; outputs the sparse result. */
export function buildEncoderModel(modelBytes: Uint8Array, spec: SaeSpec, weights: SaeWeights, options: EncoderModelOptions): BuiltModel {
  if (!spec.hookName) throw new AppError('sae/bad-config', 'Choose the hook point the SAE reads before encoding.');
  const model = decodeModel(modelBytes);
  const hook = locateHook(model.graph, spec.hookName);
  const dModel = modelDModel(model.graph);
  const bias = expectsFoldedValueBias(spec) && dModel ? valueBias(model.graph, hook.layer, dModel) : undefined;
  const head = spec.hookHeadIndex !== null && spec.hookHeadIndex !== undefined && dModel
    ? { index: spec.hookHeadIndex, dHead: spec.dIn }
    : undefined;
  appendSaeEncoder(model.graph, hook.tensor, spec, weights, {
    opset: defaultOpset(model),
    maxTensorBytes: options.maxTensorBytes,
    ...(bias ? { valueBias: bias } : {}),
    ...(head ? { head } : {}),
  });
  const outputs = spec.architecture === 'topk' ? [SAE_OUTPUTS.values, SAE_OUTPUTS.indices] : [SAE_OUTPUTS.values, SAE_OUTPUTS.indices, SAE_OUTPUTS.activeCount];
  return finish(model, hook, outputs);
}
