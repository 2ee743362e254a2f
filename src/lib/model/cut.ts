/**
 * GPT-2 cut at a hook point: the graph up to the hook's tensor and nothing after it. Pure byte-in,
 * byte-out, so the same code is checked in Node (onnxruntime-node) and runs in the worker.
 */
import { AppError } from '../errors.ts';
import { decodeModel, encodeModel, makeNode, pruneGraph, type OnnxModel } from '../formats/index.ts';
import { locateHook, type HookTensor } from './hook-graph.ts';

/** Output name of a hook-only model. */
export const HOOK_OUTPUT = 'hook_activations';

export interface BuiltModel {
  bytes: Uint8Array;
  hook: HookTensor;
  /** Graph inputs the caller must feed (input_ids, attention_mask, position_ids, past_key_values.*, sae_k). */
  inputs: string[];
  outputs: string[];
}

/** The model's ai.onnx opset (ops take some arguments as attributes or inputs depending on it). */
export function defaultOpset(model: OnnxModel): number {
  const opset = model.opsetImports.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!opset) throw new AppError('onnx/malformed', 'The model imports no ai.onnx opset.');
  return opset.version;
}

/** Keeps only what `outputs` need (inputs included) and encodes the model. */
export function finishModel(model: OnnxModel, hook: HookTensor, outputs: string[]): BuiltModel {
  pruneGraph(model.graph, model.graph.outputs.filter((o) => outputs.includes(o.name)), { pruneInputs: true });
  return { bytes: encodeModel(model), hook, inputs: model.graph.inputs.map((i) => i.name), outputs };
}

/** The model cut right after `hookName`, returning the hook's activations [batch, seq, width]. */
export function buildHookModel(modelBytes: Uint8Array, hookName: string): BuiltModel {
  const model = decodeModel(modelBytes);
  const hook = locateHook(model.graph, hookName);
  model.graph.nodes.push(makeNode('Identity', [hook.tensor], [HOOK_OUTPUT], { name: '/hook/Identity' }));
  model.graph.outputs = [{ name: HOOK_OUTPUT, elemType: 1 }];
  return finishModel(model, hook, [HOOK_OUTPUT]);
}
