/** Reading and editing decoded graphs: attribute lookup, who produces and consumes each tensor, element types, and pruning to chosen outputs. */
import { AppError } from '../../errors.ts';
import { TensorDataType } from './types.ts';
import type { OnnxAttribute, OnnxGraph, OnnxNode, ValueInfo } from './types.ts';
import { decodeTensorHeader } from './decode.ts';
import { utf8 } from './wire.ts';
import { makeValueInfo } from './build.ts';

export function getAttribute(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

/** A STRING attribute's value as text. */
export function attributeString(attribute: OnnxAttribute): string | undefined {
  return attribute.s ? utf8.decode(attribute.s) : undefined;
}

/** Which node produces each tensor, and which nodes consume it. */
export function indexGraph(graph: OnnxGraph): { producers: Map<string, OnnxNode>; consumers: Map<string, OnnxNode[]> } {
  const producers = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.nodes) {
    for (const output of node.outputs) if (output) producers.set(output, node);
    for (const input of node.inputs) {
      if (!input) continue;
      let list = consumers.get(input);
      if (!list) consumers.set(input, (list = []));
      if (!list.includes(node)) list.push(node);
    }
  }
  return { producers, consumers };
}

/**
 * Makes `outputs` the graph's outputs (existing ValueInfos are reused; new ones get the given
 * element type and unknown shape) and drops every node and initializer they do not depend on.
 * Graph inputs are kept (callers still feed them) unless `pruneInputs` is set. Nodes with
 * subgraphs (If/Loop) are kept whole when needed but their captured outer tensors are not
 * traced: use single-graph models.
 */
export function pruneGraph(graph: OnnxGraph, outputs: readonly (string | ValueInfo)[], options: { elemType?: number; pruneInputs?: boolean } = {}): void {
  const existing = new Map([...graph.outputs, ...graph.valueInfo].map((v) => [v.name, v] as const));
  graph.outputs = outputs.map((o) => (typeof o === 'string' ? existing.get(o) ?? makeValueInfo(o, options.elemType ?? TensorDataType.FLOAT) : o));
  const { producers } = indexGraph(graph);
  const needed = new Set<string>();
  const keep = new Set<OnnxNode>();
  const stack = graph.outputs.map((o) => o.name);
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    const node = producers.get(name);
    if (node && !keep.has(node)) {
      keep.add(node);
      for (const input of node.inputs) if (input) stack.push(input);
    }
  }
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  for (const name of needed) {
    if (!producers.has(name) && !inputNames.has(name) && !graph.initializers.some((t) => t.name === name)) {
      throw new AppError('onnx/missing-tensor', `The graph has no tensor "${name}": no node produces it and it is neither an input nor an initializer.`);
    }
  }
  graph.nodes = graph.nodes.filter((n) => keep.has(n));
  graph.initializers = graph.initializers.filter((t) => needed.has(t.name));
  graph.valueInfo = graph.valueInfo.filter((v) => needed.has(v.name));
  if (options.pruneInputs) graph.inputs = graph.inputs.filter((i) => needed.has(i.name));
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([TensorDataType.FLOAT, TensorDataType.FLOAT16, TensorDataType.BFLOAT16, TensorDataType.DOUBLE]);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);
const BOOL_OPS = new Set(['Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);

/**
 * The element type (TensorDataType) of a tensor, 0 when it cannot be told. Exports rarely declare the
 * types of inner tensors, so this follows the tensor back to what fixes its type: a declared value
 * info, an initializer, a Cast, an op with an integer or boolean result, else (elementwise ops, MatMul,
 * Gather, LayerNormalization, ...) the first floating-point input. Enough to tell a float16 export's
 * activations from a float32 one's.
 */
export function inferElemType(graph: OnnxGraph, tensor: string): number {
  const declared = new Map<string, number>();
  for (const v of [...graph.inputs, ...graph.outputs, ...graph.valueInfo]) if (v.elemType) declared.set(v.name, v.elemType);
  for (const t of graph.initializers) declared.set(t.name, t.dataType);
  const { producers } = indexGraph(graph);
  const known = new Map<string, number>();
  const typeOf = (name: string): number => {
    const seen = declared.get(name) ?? known.get(name);
    if (seen !== undefined) return seen;
    known.set(name, 0); // a cycle (malformed graph) reads as unknown
    const node = producers.get(name);
    let type = 0;
    if (node?.opType === 'Cast') type = Number(getAttribute(node, 'to')?.i ?? 0);
    else if (node?.opType === 'CastLike') type = typeOf(node.inputs[1] ?? '');
    else if (node?.opType === 'Constant') {
      const value = getAttribute(node, 'value')?.t;
      type = value ? decodeTensorHeader(value.proto).dataType : getAttribute(node, 'value_float') || getAttribute(node, 'value_floats') ? TensorDataType.FLOAT : TensorDataType.INT64;
    } else if (node && INT64_OPS.has(node.opType)) type = TensorDataType.INT64;
    else if (node && BOOL_OPS.has(node.opType)) type = TensorDataType.BOOL;
    else if (node) {
      // Lazily, input by input: the first one usually settles it (a weight), so the walk stays short.
      for (const input of node.inputs.filter(Boolean)) {
        const t = typeOf(input);
        if (FLOAT_TYPES.has(t)) {
          type = t;
          break;
        }
        type ||= t;
      }
    }
    known.set(name, type);
    return type;
  };
  return typeOf(tensor);
}
