/**
 * Finds a TransformerLens hook point inside a GPT-2 ONNX graph and cuts the graph there.
 *
 * Exporters disagree on tensor names (torch's `/transformer/h.6/Add_1_output_0`, Conv1D exported as
 * MatMul+Add or Reshape+Gemm+Reshape, LayerNorm fused or spelled out), but they agree on scopes: every
 * node of block L lives under `/transformer/h.L/`, its layer norms under `ln_1/` and `ln_2/`, its
 * projections under `attn/c_proj/` and `mlp/c_proj/`. So a hook is found by structure inside those
 * scopes: "the tensor that enters ln_2 from outside" is resid_mid, whatever it is called.
 */
import { AppError } from '../errors.ts';
import { indexGraph, tensorValues, type OnnxGraph, type OnnxNode, type OnnxTensor } from '../formats/index.ts';
import type { ExternalDataFile } from '../types.ts';
import { parseHookName } from './hooks.ts';

/** The hook sites the engine can read from a GPT-2 graph. */
export const GRAPH_HOOK_SITES = [
  'hook_resid_pre',
  'hook_resid_mid',
  'hook_resid_post',
  'hook_attn_out',
  'hook_mlp_out',
  'mlp.hook_post',
  'attn.hook_z',
] as const;

export interface HookTensor {
  /** The graph tensor holding the hook's activations, [batch, seq, width] (hook_z: heads flattened). */
  tensor: string;
  layer: number;
  site: string;
}

const BLOCK_SCOPE = /^\/transformer\/h\.(\d+)\//;

/** The number of transformer blocks, read from node scopes. */
export function countLayers(graph: OnnxGraph): number {
  let max = -1;
  for (const node of graph.nodes) {
    const match = BLOCK_SCOPE.exec(node.name);
    if (match) max = Math.max(max, Number(match[1]));
  }
  return max + 1;
}

/** The first activation tensor that enters the nodes of `scope` from outside it (not a weight). */
function tensorEnteringScope(graph: OnnxGraph, scope: string): string | undefined {
  const initializers = new Set(graph.initializers.map((t) => t.name));
  const produced = new Set<string>();
  const inScope = graph.nodes.filter((n) => n.name.startsWith(scope));
  for (const node of inScope) for (const output of node.outputs) produced.add(output);
  for (const node of inScope) {
    for (const input of node.inputs) {
      if (input && !initializers.has(input) && !produced.has(input) && !isConstant(graph, input)) return input;
    }
  }
  return undefined;
}

function isConstant(graph: OnnxGraph, tensor: string): boolean {
  return graph.nodes.some((n) => n.opType === 'Constant' && n.outputs.includes(tensor));
}

/** The input of an Add node that is not `known`. */
function otherAddend(producer: OnnxNode | undefined, known: string): string | undefined {
  if (!producer || producer.opType !== 'Add' || producer.inputs.length !== 2) return undefined;
  const [a, b] = producer.inputs as [string, string];
  return a === known ? b : b === known ? a : undefined;
}

/** Locates `blocks.L.<site>` in the graph; throws a clear error when the graph does not have it. */
export function locateHook(graph: OnnxGraph, hookName: string): HookTensor {
  const parsed = parseHookName(hookName);
  if (!parsed || !(GRAPH_HOOK_SITES as readonly string[]).includes(parsed.site.site)) {
    throw new AppError('sae/unknown-hook', `"${hookName}" is not a hook point the engine reads. Supported: blocks.L.<site> with <site> one of ${GRAPH_HOOK_SITES.join(', ')}.`);
  }
  const { layer } = parsed;
  const site = parsed.site.site;
  const nLayers = countLayers(graph);
  if (nLayers === 0) {
    throw new AppError('onnx/missing-tensor', 'This ONNX graph has no nodes under /transformer/h.L/: it is not a GPT-2 export we can cut (use a single-graph export such as onnx/model.onnx, not decoder_model_merged.onnx).');
  }
  if (layer >= nLayers) {
    throw new AppError('sae/layer-out-of-range', `${hookName} asks for block ${layer}, but the model has blocks 0 to ${nLayers - 1}.`);
  }
  const { producers } = indexGraph(graph);
  const residPre = (l: number) => tensorEnteringScope(graph, `/transformer/h.${l}/ln_1/`);
  const residMid = (l: number) => tensorEnteringScope(graph, `/transformer/h.${l}/ln_2/`);
  const residPost = (l: number) => (l + 1 < nLayers ? residPre(l + 1) : tensorEnteringScope(graph, '/transformer/ln_f/'));
  let tensor: string | undefined;
  switch (site) {
    case 'hook_resid_pre': tensor = residPre(layer); break;
    case 'hook_resid_mid': tensor = residMid(layer); break;
    case 'hook_resid_post': tensor = residPost(layer); break;
    case 'hook_attn_out': {
      const mid = residMid(layer);
      const pre = residPre(layer);
      tensor = mid && pre ? otherAddend(producers.get(mid), pre) : undefined;
      break;
    }
    case 'hook_mlp_out': {
      const post = residPost(layer);
      const mid = residMid(layer);
      tensor = post && mid ? otherAddend(producers.get(post), mid) : undefined;
      break;
    }
    case 'mlp.hook_post': tensor = tensorEnteringScope(graph, `/transformer/h.${layer}/mlp/c_proj/`); break;
    case 'attn.hook_z': tensor = tensorEnteringScope(graph, `/transformer/h.${layer}/attn/c_proj/`); break;
  }
  if (!tensor) {
    throw new AppError('onnx/missing-tensor', `Could not find ${hookName} in this ONNX graph (looked for the tensors entering /transformer/h.${layer}/ln_1, ln_2, attn/c_proj and mlp/c_proj). The export's layout is not one we know.`);
  }
  return { tensor, layer, site };
}

/**
 * The value bias b_V of block L's attention (the last third of c_attn's bias), which TransformerLens
 * folds out of hook_z. Undefined when the graph keeps it somewhere we do not recognise. `externalData`:
 * the files loaded beside the graph, for exports that keep their weights there.
 */
export function valueBias(graph: OnnxGraph, layer: number, dModel: number, externalData?: readonly ExternalDataFile[]): Float32Array | undefined {
  const scope = `/transformer/h.${layer}/attn/c_attn/`;
  const byName = new Map(graph.initializers.map((t) => [t.name, t] as const));
  for (const node of graph.nodes) {
    if (!node.name.startsWith(scope)) continue;
    for (const input of node.inputs) {
      const tensor: OnnxTensor | undefined = byName.get(input);
      if (tensor && tensor.dims.length === 1 && tensor.dims[0] === 3 * dModel) {
        return Float32Array.from(tensorValues(tensor, externalData).slice(2 * dModel));
      }
    }
  }
  return undefined;
}

/** The width of a graph tensor's last axis, read from the weights' shapes (in the graph even when their data is not). */
export function modelDModel(graph: OnnxGraph): number | undefined {
  const wte = graph.initializers.find((t) => /wte\.weight$/.test(t.name) && t.dims.length === 2);
  return wte?.dims[1];
}
