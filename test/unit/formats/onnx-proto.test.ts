import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { errorCode } from '../../../src/lib/errors.ts';
import {
  attrFloat,
  attrFloats,
  attrInt,
  attrInts,
  attrString,
  attributeString,
  AttributeType,
  decodeModel,
  decodeTensorHeader,
  encodeModel,
  encodeModelParts,
  getAttribute,
  indexGraph,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  pruneGraph,
  tensorRawData,
  tensorValues,
  TensorDataType,
  type OnnxModel,
} from '../../../src/lib/formats/index.ts';
import { REPO_ROOT, TINY_GPT2_DIR } from '../../../scripts/fixtures/tiny-gpt2.ts';

const MODEL_PATH = join(REPO_ROOT, TINY_GPT2_DIR, 'onnx/model.onnx');
const fixture = () => new Uint8Array(readFileSync(MODEL_PATH));

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** Runs a model on a fixed 2 x 5 batch. */
async function run(bytes: Uint8Array, fetches?: string[]): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(bytes);
  const ids = [1, 262, 286, 4096, 13, 290, 11, 262, 3290, 0];
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [2, 5]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], BigInt), [2, 5]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], BigInt), [2, 5]),
  };
  const result = fetches ? await session.run(feeds, fetches) : await session.run(feeds);
  await session.release();
  return result;
}

/** Encodes a one-Identity-node model carrying the given attributes. */
function modelWithAttributes(attributes: ReturnType<typeof attrInt>[]): OnnxModel {
  const node = makeNode('Identity', ['x'], ['y'], { name: 'n', attributes });
  return makeModel(makeGraph({
    name: 'g',
    nodes: [node],
    inputs: [makeValueInfo('x', TensorDataType.FLOAT, [2])],
    outputs: [makeValueInfo('y', TensorDataType.FLOAT, [2])],
  }));
}

describe('onnx-proto: the tiny GPT-2 fixture', () => {
  it('decodes nodes, inputs, outputs and initializers', () => {
    const model = decodeModel(fixture());
    expect(model.irVersion).toBe(8);
    expect(model.opsetImports).toEqual([{ domain: '', version: 17 }]);
    const { graph } = model;
    expect(graph.inputs).toEqual([
      { name: 'input_ids', elemType: TensorDataType.INT64, dims: ['batch_size', 'sequence_length'] },
      { name: 'attention_mask', elemType: TensorDataType.INT64, dims: ['batch_size', 'sequence_length'] },
      { name: 'position_ids', elemType: TensorDataType.INT64, dims: ['batch_size', 'sequence_length'] },
    ]);
    expect(graph.outputs).toEqual([{ name: 'logits', elemType: TensorDataType.FLOAT, dims: ['batch_size', 'sequence_length', 4097] }]);

    const wte = graph.initializers.find((t) => t.name === 'transformer.wte.weight')!;
    expect(wte.dims).toEqual([4097, 64]);
    expect(wte.dataType).toBe(TensorDataType.FLOAT);
    expect(tensorRawData(wte)!.byteLength).toBe(4097 * 64 * 4);

    const ln = graph.nodes.find((n) => n.name === '/transformer/h.1/ln_1/LayerNormalization')!;
    expect(ln.opType).toBe('LayerNormalization');
    expect(ln.inputs).toEqual(['/transformer/h.0/Add_1_output_0', 'transformer.h.1.ln_1.weight', 'transformer.h.1.ln_1.bias']);
    expect(getAttribute(ln, 'axis')).toMatchObject({ type: AttributeType.INT, i: -1 });
    expect(getAttribute(ln, 'epsilon')!.f).toBeCloseTo(1e-5, 12);

    const reshapeShape = graph.initializers.find((t) => t.name === '/transformer/h.0/attn/Constant_1_output_0')!;
    expect(tensorValues(reshapeShape)).toEqual([0, 0, 4, 16]);
  });

  it('does not copy initializer bytes when decoding', () => {
    const bytes = fixture();
    const model = decodeModel(bytes);
    for (const tensor of model.graph.initializers) {
      expect(tensor.proto.buffer).toBe(bytes.buffer);
    }
  });

  it('round-trips byte for byte', () => {
    const bytes = fixture();
    const again = encodeModel(decodeModel(bytes));
    expect(sameBytes(again, bytes)).toBe(true);
    const { parts, length } = encodeModelParts(decodeModel(bytes));
    expect(length).toBe(bytes.byteLength);
    // The big weights are handed over as views, not copied into the parts.
    expect(parts.some((p) => p.buffer === bytes.buffer && p.byteLength >= 4097 * 64 * 4)).toBe(true);
  });

  it('re-encodes only what changed', () => {
    const bytes = fixture();
    const model = decodeModel(bytes);
    model.graph.nodes[0]!.name = '/renamed';
    model.graph.initializers[1]!.name = 'wpe.renamed';
    const edited = encodeModel(model);
    const decoded = decodeModel(edited);
    expect(decoded.graph.nodes[0]!.name).toBe('/renamed');
    expect(decoded.graph.initializers[1]!.name).toBe('wpe.renamed');
    expect(decoded.graph.initializers[1]!.dims).toEqual([1024, 64]);
    expect(sameBytes(tensorRawData(decoded.graph.initializers[1]!)!, tensorRawData(model.graph.initializers[1]!)!)).toBe(true);
    // Changing them back restores the original bytes.
    model.graph.nodes[0]!.name = decodeModel(bytes).graph.nodes[0]!.name;
    model.graph.initializers[1]!.name = 'transformer.wpe.weight';
    expect(sameBytes(encodeModel(model), bytes)).toBe(true);
  });

  it('adds graph outputs that onnxruntime accepts', async () => {
    const model = decodeModel(fixture());
    model.graph.outputs.push(makeValueInfo('/transformer/h.1/Add_output_0', TensorDataType.FLOAT, ['batch_size', 'sequence_length', 64]));
    model.graph.outputs.push(makeValueInfo('/transformer/h.2/mlp/act/Mul_3_output_0', TensorDataType.FLOAT));
    const result = await run(encodeModel(model));
    expect(result['/transformer/h.1/Add_output_0']!.dims).toEqual([2, 5, 64]);
    expect(result['/transformer/h.2/mlp/act/Mul_3_output_0']!.dims).toEqual([2, 5, 256]);
    expect(result.logits!.dims).toEqual([2, 5, 4097]);
  });

  it('cuts the graph after a hook point (removing nodes) and gives the same values', async () => {
    const bytes = fixture();
    const hook = '/transformer/h.0/Add_1_output_0';
    const full = decodeModel(bytes);
    full.graph.outputs.push(makeValueInfo(hook, TensorDataType.FLOAT));
    const expected = (await run(encodeModel(full), [hook]))[hook]!;

    const cut = decodeModel(bytes);
    pruneGraph(cut.graph, [hook]);
    expect(cut.graph.outputs.map((o) => o.name)).toEqual([hook]);
    expect(cut.graph.nodes.some((n) => n.name.startsWith('/transformer/h.1/') || n.name.startsWith('/lm_head/'))).toBe(false);
    expect(cut.graph.initializers.some((t) => t.name.startsWith('transformer.h.1.') || t.name === 'transformer.ln_f.weight')).toBe(false);
    expect(cut.graph.inputs.map((i) => i.name)).toEqual(['input_ids', 'attention_mask', 'position_ids']);
    const cutBytes = encodeModel(cut);
    expect(cutBytes.byteLength).toBeLessThan(bytes.byteLength);
    const actual = (await run(cutBytes))[hook]!;
    expect(actual.dims).toEqual(expected.dims);
    expect(Array.from(actual.data as Float32Array)).toEqual(Array.from(expected.data as Float32Array));
  });

  it('indexes producers and consumers', () => {
    const { graph } = decodeModel(fixture());
    const { producers, consumers } = indexGraph(graph);
    expect(producers.get('/transformer/h.2/Add_1_output_0')!.name).toBe('/transformer/h.2/Add_1');
    expect(consumers.get('/transformer/h.2/Add_1_output_0')!.map((n) => n.name)).toEqual(['/transformer/ln_f/LayerNormalization']);
    expect(consumers.get('transformer.wte.weight')!.map((n) => n.name).sort()).toEqual(['/lm_head/Transpose', '/transformer/wte/Gather']);
  });

  it('reports a missing tensor when pruning to a name the graph lacks', () => {
    const { graph } = decodeModel(fixture());
    expect(() => pruneGraph(graph, ['/transformer/h.9/Add_1_output_0'])).toThrow(expect.objectContaining({ code: 'onnx/missing-tensor' }));
  });
});

describe('onnx-proto: varints and attributes', () => {
  it('writes negative int64 attributes as 10-byte varints and reads them back', () => {
    const bytes = encodeModel(modelWithAttributes([attrInt('axis', -1)]));
    // tag (field 3, varint) then -1 as ten bytes.
    const minusOne = [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const at = Buffer.from(bytes).indexOf(Buffer.from(minusOne));
    expect(at).toBeGreaterThan(0);
    expect(decodeModel(bytes).graph.nodes[0]!.attributes[0]!.i).toBe(-1);
  });

  it('round-trips int64 extremes, floats, strings and lists', () => {
    const values = [0, 1, 127, 128, 300, -1, -2, -128, 2 ** 31, -(2 ** 31), 2 ** 32 + 5, -(2 ** 32) - 5, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
    const big = [9223372036854775807n, -9223372036854775808n, 2n ** 53n + 1n, -(2n ** 53n) - 1n];
    const model = modelWithAttributes([
      attrInts('ints', [...values, ...big]),
      attrFloat('f', 1e-5),
      attrFloats('floats', [0.5, -3.25, 1e30]),
      attrString('s', 'héllo ✓'),
      ...values.map((v, i) => attrInt(`i${i}`, v)),
      ...big.map((v, i) => attrInt(`b${i}`, v)),
    ]);
    const decoded = decodeModel(encodeModel(model));
    const node = decoded.graph.nodes[0]!;
    expect(getAttribute(node, 'ints')!.ints).toEqual([...values, ...big]);
    expect(getAttribute(node, 'f')!.f).toBe(Math.fround(1e-5));
    expect(getAttribute(node, 'floats')!.floats).toEqual([0.5, -3.25, Math.fround(1e30)]);
    expect(attributeString(getAttribute(node, 's')!)).toBe('héllo ✓');
    values.forEach((v, i) => expect(getAttribute(node, `i${i}`)!.i).toBe(v));
    big.forEach((v, i) => expect(getAttribute(node, `b${i}`)!.i).toBe(v));
    expect(sameBytes(encodeModel(decoded), encodeModel(model))).toBe(true);
  });

  it('reads packed repeated ints and keeps unknown fields byte for byte', () => {
    // An AttributeProto written by hand: name "p", ints packed [3, -1, 300], doc_string "d" (field 13), type INTS.
    const packedInts = [0x03, ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 0xac, 0x02];
    const attribute = [0x0a, 0x01, 0x70, 0x42, packedInts.length, ...packedInts, 0x6a, 0x01, 0x64, 0xa0, 0x01, 0x07];
    // A NodeProto: input "x", output "y", op_type "Identity", attribute, doc_string "doc" (field 6).
    const text = (s: string) => [...new TextEncoder().encode(s)];
    const node = [0x0a, 1, ...text('x'), 0x12, 1, ...text('y'), 0x22, 8, ...text('Identity'), 0x2a, attribute.length, ...attribute, 0x32, 3, ...text('doc')];
    const graph = [0x0a, node.length, ...node, 0x12, 1, ...text('g')];
    const opset = [0x0a, 0x00, 0x10, 0x11];
    const modelBytes = new Uint8Array([0x08, 0x08, 0x3a, graph.length, ...graph, 0x42, opset.length, ...opset]);

    const model = decodeModel(modelBytes);
    const decodedNode = model.graph.nodes[0]!;
    expect(decodedNode.opType).toBe('Identity');
    expect(decodedNode.unknownFields!.map((f) => f.field)).toEqual([6]);
    const p = decodedNode.attributes[0]!;
    expect(p.ints).toEqual([3, -1, 300]);
    expect(p.type).toBe(AttributeType.INTS);
    expect(p.unknownFields!.map((f) => f.field)).toEqual([13]);
    expect(model.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(sameBytes(encodeModel(model), modelBytes)).toBe(true);

    // After an edit the node is re-encoded canonically (unpacked ints), keeping the unknown fields.
    decodedNode.inputs = ['x2'];
    const edited = decodeModel(encodeModel(model)).graph.nodes[0]!;
    expect(edited.inputs).toEqual(['x2']);
    expect(edited.attributes[0]!.ints).toEqual([3, -1, 300]);
    expect(edited.unknownFields!.map((f) => sameBytes(f.bytes, new Uint8Array([0x32, 3, ...text('doc')])))).toEqual([true]);
  });

  it('builds tensors and reads their values', () => {
    const f = makeTensor('f', TensorDataType.FLOAT, [2, 2], [1, 2.5, -3, 0]);
    expect(tensorValues(f)).toEqual([1, 2.5, -3, 0]);
    const i = makeTensor('i', TensorDataType.INT64, [3], [-1, 0, 2 ** 40]);
    expect(tensorValues(i)).toEqual([-1, 0, 2 ** 40]);
    expect(decodeTensorHeader(i.proto)).toMatchObject({ name: 'i', dataType: TensorDataType.INT64, dims: [3] });
    const scalar = makeTensor('s', TensorDataType.FLOAT, [], new Float32Array([7]));
    expect(scalar.dims).toEqual([]);
    expect(tensorValues(scalar)).toEqual([7]);
    expect(() => makeTensor('bad', TensorDataType.FLOAT, [3], [1, 2])).toThrow();
  });

  it('rejects truncated and garbage input with onnx/malformed', () => {
    const bytes = fixture();
    for (const broken of [bytes.subarray(0, bytes.byteLength - 1000), bytes.subarray(0, 37), new Uint8Array([0x0f, 0xff]), new Uint8Array([0x3a, 0x80])]) {
      let error: unknown;
      try {
        decodeModel(broken);
      } catch (e) {
        error = e;
      }
      expect(errorCode(error)).toBe('onnx/malformed');
    }
  });

  it('decodes and encodes a large model without copying its weights', () => {
    const weight = new Float32Array(16 * 1024 * 1024); // 64 MiB
    weight[weight.length - 1] = 42;
    const model = makeModel(makeGraph({
      nodes: [makeNode('MatMul', ['x', 'w'], ['y'], { name: 'mm' })],
      initializers: [makeTensor('w', TensorDataType.FLOAT, [4096, 4096], weight)],
      inputs: [makeValueInfo('x', TensorDataType.FLOAT, ['n', 4096])],
      outputs: [makeValueInfo('y', TensorDataType.FLOAT, ['n', 4096])],
    }));
    const bytes = encodeModel(model);
    const decoded = decodeModel(bytes);
    // Decoding views the weight where it lies in the file's bytes (no copy).
    expect(tensorRawData(decoded.graph.initializers[0]!)!.buffer).toBe(bytes.buffer);
    decoded.graph.outputs.push(makeValueInfo('x', TensorDataType.FLOAT));
    const { parts, length } = encodeModelParts(decoded);
    expect(length - bytes.byteLength).toBeGreaterThan(0);
    expect(length - bytes.byteLength).toBeLessThan(32);
    expect(parts.some((p) => p.buffer === bytes.buffer && p.byteLength >= weight.byteLength)).toBe(true);
    const reencoded = decodeModel(encodeModel(decoded));
    expect(reencoded.graph.outputs.map((o) => o.name)).toEqual(['y', 'x']);
    const raw = tensorRawData(reencoded.graph.initializers[0]!)!;
    expect(new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getFloat32(raw.byteLength - 4, true)).toBe(42);
  });
});
