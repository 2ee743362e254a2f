/**
 * A float16 export cut at a hook point (the tiny GPT-2 rounded to float16, as scripts/fixtures/hub-layouts.ts
 * writes model_fp16.onnx): the hook gets one Cast to float32, the activations agree with the float32
 * export's within float16's rounding, and half-precision past_key_values inputs are fed as float32 to
 * the built graphs and as float16 to the whole export. onnxruntime-node runs float16 graphs on the CPU.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  attrInt, buildHookModel, decodeModel, encodeModel, GRAPH_HOOK_SITES, HOOK_OUTPUT, makeNode, makeValueInfo, pastKeyValuesType, tokenFeeds, TensorDataType,
  type TensorData,
} from '../../../src/lib/index.ts';
import { float16Export } from '../../../scripts/fixtures/hub-layouts.ts';
import { relativeError } from '../../support/compare.ts';
import { createNodeRuntime } from '../../support/node-runtime.ts';
import { TINY_GPT2, tokenRows } from '../../support/sae-fixtures.ts';

const FP32 = new Uint8Array(readFileSync(join(TINY_GPT2, 'onnx/model.onnx')));
const FP16 = float16Export(FP32);
const SHAPE = { nHeads: 4, dHead: 16 };
const ROWS = tokenRows(2, 9, 7);
const backend = createNodeRuntime().backend;

async function run(bytes: Uint8Array, pastType?: 'float32' | 'float16'): Promise<Record<string, TensorData>> {
  const session = await backend.createSession(bytes, 'a test graph');
  try {
    return await session.run(tokenFeeds(session.inputNames, ROWS, SHAPE, pastType));
  } finally {
    await session.release();
  }
}

const hookOf = async (bytes: Uint8Array, hook: string) => (await run(buildHookModel(bytes, hook).bytes))[HOOK_OUTPUT]!;

/** The export with a KV-cache input in block 0, as "with past" exports have: values = Concat(past, current). Empty past changes nothing. */
function withPastValue(bytes: Uint8Array, type: number): Uint8Array {
  const model = decodeModel(bytes);
  const { graph } = model;
  const at = graph.nodes.findIndex((n) => n.name === '/transformer/h.0/attn/MatMul_1');
  const matmul = graph.nodes[at]!;
  graph.nodes.splice(at, 0, makeNode('Concat', ['past_key_values.0.value', matmul.inputs[1]!], ['present.0.value'], { name: '/transformer/h.0/attn/Concat_past', attributes: [attrInt('axis', 2)] }));
  matmul.inputs = [matmul.inputs[0]!, 'present.0.value'];
  graph.inputs.push(makeValueInfo('past_key_values.0.value', type, ['batch_size', 4, 'past_sequence_length', 16]));
  return encodeModel(model);
}

describe('a float16 export cut at a hook', () => {
  test('the hook is cast to float32 once, and the output is float32', () => {
    const built = decodeModel(buildHookModel(FP16, 'blocks.1.hook_resid_mid').bytes).graph;
    const casts = built.nodes.filter((n) => n.name.startsWith('/hook/'));
    expect(casts.map((n) => n.opType)).toEqual(['Cast', 'Identity']);
    expect(casts[0]!.inputs).toEqual(['/transformer/h.1/Add_output_0']);
    expect(casts[0]!.attributes.find((a) => a.name === 'to')?.i).toBe(TensorDataType.FLOAT);
    expect(built.outputs).toEqual([expect.objectContaining({ name: HOOK_OUTPUT, elemType: TensorDataType.FLOAT })]);
    // A float32 export gets no Cast.
    expect(decodeModel(buildHookModel(FP32, 'blocks.1.hook_resid_mid').bytes).graph.nodes.some((n) => n.opType === 'Cast' && n.name.startsWith('/hook/'))).toBe(false);
  });

  test.each(GRAPH_HOOK_SITES.flatMap((site) => [0, 2].map((layer) => `blocks.${layer}.${site}`)))('%s agrees with the float32 export within 1e-2', async (hook) => {
    const [half, full] = [await hookOf(FP16, hook), await hookOf(FP32, hook)];
    expect(half.type).toBe('float32');
    expect(half.dims).toEqual(full.dims);
    const error = relativeError(half.data as Float32Array, full.data as Float32Array);
    expect(error).toBeLessThan(1e-2);
    expect(error).toBeGreaterThan(0); // it really ran in float16
  });
});

describe('float16 past_key_values', () => {
  const pastFp16 = withPastValue(FP16, TensorDataType.FLOAT16);

  test('the built graph takes them as float32 and casts them inside; the numbers do not change', async () => {
    const built = buildHookModel(pastFp16, 'blocks.1.hook_resid_pre');
    const graph = decodeModel(built.bytes).graph;
    expect(graph.inputs.find((i) => i.name === 'past_key_values.0.value')?.elemType).toBe(TensorDataType.FLOAT);
    const cast = graph.nodes.find((n) => n.inputs.includes('past_key_values.0.value'))!;
    expect(cast.opType).toBe('Cast');
    expect(cast.attributes.find((a) => a.name === 'to')?.i).toBe(TensorDataType.FLOAT16);
    const out = (await run(built.bytes))[HOOK_OUTPUT]!;
    expect(out.data).toEqual((await hookOf(FP16, 'blocks.1.hook_resid_pre')).data);
  });

  test('the whole export is fed float16 past values (its own type) and returns float16 logits', async () => {
    expect(pastKeyValuesType(pastFp16)).toBe('float16');
    expect(pastKeyValuesType(withPastValue(FP32, TensorDataType.FLOAT))).toBe('float32');
    expect(pastKeyValuesType(FP32)).toBe('float32');
    const feeds = tokenFeeds(['input_ids', 'past_key_values.0.value'], ROWS, SHAPE, 'float16');
    expect(feeds['past_key_values.0.value']).toEqual({ type: 'float16', data: new Uint16Array(0), dims: [2, 4, 0, 16] });
    const logits = (await run(pastFp16, 'float16')).logits!;
    expect(logits.type).toBe('float16');
    expect(logits.data).toEqual((await run(FP16)).logits!.data);
    await expect(run(pastFp16, 'float32')).rejects.toThrow(/float/i); // the wrong type is refused, not converted
  });
});
