/**
 * GPT-2 cut at a hook point: the graph up to the hook's tensor and nothing after it, read in float32
 * whatever the export's precision. Pure byte-in, byte-out, so the same code is checked in Node
 * (onnxruntime-node) and runs in the worker.
 */
import { AppError } from '../errors.ts';
import { attrInt, decodeModel, encodeModel, inferElemType, makeNode, pruneGraph, TensorDataType, type OnnxGraph, type OnnxModel, type OnnxNode } from '../formats/index.ts';
import { locateHook, type HookTensor } from './hook-graph.ts';

/** Output name of a hook-only model (always float32). */
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

const HALF_TYPES: ReadonlySet<number> = new Set([TensorDataType.FLOAT16, TensorDataType.BFLOAT16]);

/**
 * Makes half-precision graph inputs (a float16 export's past_key_values) float32 inputs cast inside the
 * graph, so that every graph the engine builds is fed the same float32 tensors whatever the export.
 */
function widenHalfInputs(graph: OnnxGraph): void {
  const casts: OnnxNode[] = [];
  for (const input of graph.inputs) {
    if (!HALF_TYPES.has(input.elemType)) continue;
    const inner = `${input.name}/half`;
    for (const node of graph.nodes) if (node.inputs.includes(input.name)) node.inputs = node.inputs.map((n) => (n === input.name ? inner : n));
    casts.push(makeNode('Cast', [input.name], [inner], { name: `/inputs/Cast_${casts.length}`, attributes: [attrInt('to', input.elemType)] }));
    input.elemType = TensorDataType.FLOAT;
  }
  graph.nodes.unshift(...casts);
}

/**
 * Locates `hookName` and readies the graph to be read there in float32: the SAE encoder and the engine
 * work in float32, so a float16 export's activations get one Cast (the hook's type is read from the
 * graph, not guessed from the file name; an undecidable type gets the Cast too, which is harmless).
 * Returns the hook and the float32 tensor to read.
 */
export function cutAt(model: OnnxModel, hookName: string): { hook: HookTensor; tensor: string } {
  const hook = locateHook(model.graph, hookName);
  const type = inferElemType(model.graph, hook.tensor);
  widenHalfInputs(model.graph);
  if (type === TensorDataType.FLOAT) return { hook, tensor: hook.tensor };
  const tensor = '/hook/Cast_output_0';
  model.graph.nodes.push(makeNode('Cast', [hook.tensor], [tensor], { name: '/hook/Cast', attributes: [attrInt('to', TensorDataType.FLOAT)] }));
  return { hook, tensor };
}

/**
 * The model cut right after `hookName`, returning the hook's activations [batch, seq, width] in float32.
 * It reads no weight values, so a graph with external data needs its files only in the session.
 */
export function buildHookModel(modelBytes: Uint8Array, hookName: string): BuiltModel {
  const model = decodeModel(modelBytes);
  const { hook, tensor } = cutAt(model, hookName);
  model.graph.nodes.push(makeNode('Identity', [tensor], [HOOK_OUTPUT], { name: '/hook/Identity' }));
  model.graph.outputs = [{ name: HOOK_OUTPUT, elemType: TensorDataType.FLOAT }];
  return finishModel(model, hook, [HOOK_OUTPUT]);
}
