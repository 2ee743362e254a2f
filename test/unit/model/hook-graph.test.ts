/**
 * Where each TransformerLens hook point is in the tiny GPT-2 fixture's ONNX graph (a torch export:
 * LayerNormalization nodes, Conv1D as MatMul + Add), found by structure inside the block scopes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeModel, makeGraph, makeNode, makeTensor, TensorDataType, type OnnxGraph } from '../../../src/lib/formats/index.ts';
import { countLayers, GRAPH_HOOK_SITES, locateHook } from '../../../src/lib/model/index.ts';
import { TINY_GPT2 } from '../../support/sae-fixtures.ts';

const graph = (): OnnxGraph => decodeModel(readFileSync(join(TINY_GPT2, 'onnx/model.onnx'))).graph;
const GRAPH = graph();
const LAST = 2;

/** The torch exporter's name for each hook's tensor in block L (hook_z with its heads flattened). */
const EXPECTED: Record<(typeof GRAPH_HOOK_SITES)[number], (layer: number) => string> = {
  hook_resid_pre: (l) => (l === 0 ? '/transformer/Add_output_0' : `/transformer/h.${l - 1}/Add_1_output_0`),
  hook_resid_mid: (l) => `/transformer/h.${l}/Add_output_0`,
  hook_resid_post: (l) => `/transformer/h.${l}/Add_1_output_0`,
  hook_attn_out: (l) => `/transformer/h.${l}/attn/c_proj/Add_output_0`,
  hook_mlp_out: (l) => `/transformer/h.${l}/mlp/c_proj/Add_output_0`,
  'mlp.hook_post': (l) => `/transformer/h.${l}/mlp/act/Mul_3_output_0`,
  'attn.hook_z': (l) => `/transformer/h.${l}/attn/Reshape_3_output_0`,
};

const locate = (layer: number, site: string) => locateHook(GRAPH, `blocks.${layer}.${site}`).tensor;
const producer = (tensor: string) => GRAPH.nodes.find((n) => n.outputs.includes(tensor));
const code = (expected: string) => expect.objectContaining({ code: expected });

describe('locateHook on the tiny GPT-2', () => {
  test('the fixture has three blocks', () => {
    expect(countLayers(GRAPH)).toBe(3);
  });

  const cases = GRAPH_HOOK_SITES.flatMap((site) => [0, LAST].map((layer) => ({ name: `blocks.${layer}.${site}`, site, layer })));
  test.each(cases)('$name is the tensor the exporter computes it in', ({ name, site, layer }) => {
    const hook = locateHook(GRAPH, name);
    expect(hook).toEqual({ tensor: EXPECTED[site](layer), layer, site });
    expect(producer(hook.tensor), 'a node computes it').toBeDefined();
  });

  test('resid_post of a block is resid_pre of the next one', () => {
    for (let layer = 0; layer < LAST; layer++) expect(locate(layer, 'hook_resid_post')).toBe(locate(layer + 1, 'hook_resid_pre'));
  });

  test("the last block's resid_post is what enters ln_f", () => {
    const lnF = GRAPH.nodes.find((n) => n.name.startsWith('/transformer/ln_f/'))!;
    expect(lnF.inputs[0]).toBe(locate(LAST, 'hook_resid_post'));
  });

  test('the residual stream is the running sum of the attention and MLP outputs', () => {
    for (const layer of [0, 1, LAST]) {
      const mid = producer(locate(layer, 'hook_resid_mid'))!;
      expect(mid.opType).toBe('Add');
      expect([...mid.inputs].sort()).toEqual([locate(layer, 'hook_attn_out'), locate(layer, 'hook_resid_pre')].sort());
      const post = producer(locate(layer, 'hook_resid_post'))!;
      expect(post.opType).toBe('Add');
      expect([...post.inputs].sort()).toEqual([locate(layer, 'hook_mlp_out'), locate(layer, 'hook_resid_mid')].sort());
    }
  });

  test.each(['blocks.0.hook_nonsense', 'blocks.0.attn.hook_q', 'blocks.0.mlp.hook_pre', 'hook_resid_pre', 'blocks.x.hook_resid_pre'])('%s is sae/unknown-hook', (name) => {
    expect(() => locateHook(GRAPH, name)).toThrow(code('sae/unknown-hook'));
  });

  test('a block the model lacks is sae/layer-out-of-range, naming the blocks it has', () => {
    expect(() => locateHook(GRAPH, 'blocks.3.hook_resid_pre')).toThrow(expect.objectContaining({ code: 'sae/layer-out-of-range', message: expect.stringMatching(/blocks 0 to 2/) }));
  });

  test('a graph with no /transformer/h.N/ nodes is onnx/missing-tensor', () => {
    const other = makeGraph({ nodes: [makeNode('Identity', ['x'], ['y'], { name: '/model/layers.0/Identity' })] });
    expect(countLayers(other)).toBe(0);
    expect(() => locateHook(other, 'blocks.0.hook_resid_pre')).toThrow(code('onnx/missing-tensor'));
  });

  test('a block whose layout is unknown is onnx/missing-tensor for the hooks it cannot find', () => {
    const renamed = graph();
    for (const node of renamed.nodes) node.name = node.name.replace('/transformer/h.1/ln_2/', '/transformer/h.1/norm/');
    expect(() => locateHook(renamed, 'blocks.1.hook_resid_mid')).toThrow(code('onnx/missing-tensor'));
    expect(() => locateHook(renamed, 'blocks.1.hook_attn_out')).toThrow(code('onnx/missing-tensor'));
    expect(locateHook(renamed, 'blocks.1.hook_resid_pre').tensor).toBe(EXPECTED.hook_resid_pre(1));
  });

  test('weights and constants inside a scope are not taken for the activation entering it', () => {
    const small = makeGraph({
      nodes: [
        makeNode('Constant', [], ['c'], { name: '/transformer/Constant' }),
        makeNode('Mul', ['ln_w', 'c', 'x'], ['y'], { name: '/transformer/h.0/ln_1/Mul' }),
      ],
      initializers: [makeTensor('ln_w', TensorDataType.FLOAT, [1], [1])],
    });
    expect(locateHook(small, 'blocks.0.hook_resid_pre').tensor).toBe('x');
  });
});
