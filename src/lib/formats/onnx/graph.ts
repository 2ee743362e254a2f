/** Reading and editing decoded graphs: attribute lookup, who produces and consumes each tensor, and pruning to chosen outputs. */
import { AppError } from '../../errors.ts';
import { TensorDataType } from './types.ts';
import type { OnnxAttribute, OnnxGraph, OnnxNode, ValueInfo } from './types.ts';
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
