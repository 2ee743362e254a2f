/**
 * Tensors whose data lives in a file beside the graph (ONNX external data): the codec keeps them intact
 * through decode -> edit -> encode, reads their values from the files, and says which file is missing.
 * Also the element types the graph code reads (inferElemType), which tell a float16 export.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  attrInt, DataLocation, decodeModel, decodeTensorHeader, encodeModel, externalDataRef, inferElemType, makeExternalTensor, makeGraph, makeModel, makeNode,
  makeTensor, makeValueInfo, pruneGraph, tensorBytes, tensorValues, TensorDataType,
} from '../../../src/lib/formats/index.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { float16Export, withExternalData } from '../../../scripts/fixtures/hub-layouts.ts';
import { TINY_GPT2 } from '../../support/sae-fixtures.ts';

const GRAPH = new Uint8Array(readFileSync(join(TINY_GPT2, 'onnx/model.onnx')));
const external = withExternalData(GRAPH, 'model.onnx_data');
const files = [{ path: 'model.onnx_data', data: external.data }];
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

describe('external tensors', () => {
  test('decode -> encode is byte-identical, and an edit keeps every external tensor as it was', () => {
    expect(sameBytes(encodeModel(decodeModel(external.graph)), external.graph)).toBe(true);
    const model = decodeModel(external.graph);
    const before = new Map(model.graph.initializers.map((t) => [t.name, t.proto]));
    model.graph.nodes.push(makeNode('Identity', ['/transformer/h.0/Add_output_0'], ['out'], { name: '/out' }));
    pruneGraph(model.graph, ['out'], { pruneInputs: true });
    const edited = decodeModel(encodeModel(model));
    const wte = edited.graph.initializers.find((t) => t.name === 'transformer.wte.weight')!;
    expect(decodeTensorHeader(wte.proto)).toMatchObject({ externalData: true, dims: [4097, 64], dataType: TensorDataType.FLOAT });
    for (const tensor of edited.graph.initializers) expect(sameBytes(tensor.proto, before.get(tensor.name)!), tensor.name).toBe(true);
  });

  test('a renamed external tensor keeps its location, offset and length', () => {
    const model = decodeModel(external.graph);
    const tensor = model.graph.initializers.find((t) => t.name === 'transformer.h.1.mlp.c_fc.weight')!;
    const ref = externalDataRef(tensor);
    tensor.name = 'renamed';
    const reread = decodeModel(encodeModel(model)).graph.initializers.find((t) => t.name === 'renamed')!;
    expect(externalDataRef(reread)).toEqual(ref);
    expect(tensorValues(reread, files)).toEqual(tensorValues(tensor, files));
  });

  test('values read from the data file are the plain graph\'s, for every moved tensor', () => {
    const plain = new Map(decodeModel(GRAPH).graph.initializers.map((t) => [t.name, t]));
    let moved = 0;
    for (const tensor of decodeModel(external.graph).graph.initializers) {
      if (!externalDataRef(tensor)) continue;
      moved++;
      expect(sameBytes(tensorBytes(tensor, files)!, tensorBytes(plain.get(tensor.name)!)!), tensor.name).toBe(true);
    }
    expect(moved).toBe(2 + 3 * 6); // wte, wpe; per block every matrix, c_attn's and c_fc's bias
    const bias = decodeModel(external.graph).graph.initializers.find((t) => t.name === 'transformer.h.2.attn.c_attn.bias')!;
    expect(externalDataRef(bias)).toBeDefined();
    expect(tensorValues(bias, files)).toEqual(tensorValues(plain.get(bias.name)!));
  });

  test('the entries as ONNX writes them; "./" locations and a missing length are understood', () => {
    const data = new Uint8Array(new Float32Array([0, 0, 1.5, -2, 3, 4]).buffer);
    const tensor = makeExternalTensor('t', TensorDataType.FLOAT, [2, 2], { location: 'w.bin', offset: 8, length: 16 });
    expect(decodeTensorHeader(tensor.proto)).toMatchObject({ name: 't', dims: [2, 2], externalData: true });
    expect(externalDataRef(tensor)).toEqual({ location: 'w.bin', offset: 8, length: 16 });
    expect(tensorValues(tensor, [{ path: './w.bin', data }])).toEqual([1.5, -2, 3, 4]);
    expect(tensorValues(makeExternalTensor('u', TensorDataType.FLOAT, [2], { location: './w.bin', offset: 8, length: 8 }), [{ path: 'w.bin', data }])).toEqual([1.5, -2]);
    expect(DataLocation.EXTERNAL).toBe(1);
  });

  test('a missing or short data file is an error that names the tensor and the file', () => {
    const tensor = decodeModel(external.graph).graph.initializers.find((t) => t.name === 'transformer.wte.weight')!;
    let error = (() => { try { tensorValues(tensor); } catch (e) { return e as Error; } })();
    expect(errorCode(error)).toBe('onnx/missing-tensor');
    expect(error!.message).toMatch(/"transformer\.wte\.weight" keeps its data in "model\.onnx_data" beside the graph, but none was loaded/);
    error = (() => { try { tensorValues(tensor, [{ path: 'model.onnx_data', data: external.data.subarray(0, 100) }]); } catch (e) { return e as Error; } })();
    expect(errorCode(error)).toBe('onnx/malformed');
    expect(error!.message).toMatch(/has only 100 bytes/);
    expect(() => tensorValues(tensor, [{ path: 'other.bin', data: external.data }])).toThrow(/only "other\.bin" were loaded/);
  });
});

describe('inferElemType', () => {
  const hook = '/transformer/h.1/Add_output_0';

  test('reads activations as float32 in the float32 export and float16 in the float16 one', () => {
    expect(inferElemType(decodeModel(GRAPH).graph, hook)).toBe(TensorDataType.FLOAT);
    expect(inferElemType(decodeModel(external.graph).graph, hook)).toBe(TensorDataType.FLOAT);
    const half = decodeModel(float16Export(GRAPH)).graph;
    expect(inferElemType(half, hook)).toBe(TensorDataType.FLOAT16);
    expect(inferElemType(half, '/transformer/h.0/attn/Softmax_output_0')).toBe(TensorDataType.FLOAT16);
    expect(inferElemType(half, '/transformer/And_output_0')).toBe(TensorDataType.BOOL);
    expect(inferElemType(half, '/transformer/Shape_output_0')).toBe(TensorDataType.INT64);
  });

  test('declared types, Cast and Constant decide; an unknown tensor is 0', () => {
    const graph = makeGraph({
      nodes: [
        makeNode('Constant', [], ['c'], { attributes: [{ name: 'value', type: 4, t: makeTensor('c', TensorDataType.FLOAT16, [1], [0]) }] }),
        makeNode('Add', ['x', 'c'], ['y']),
        makeNode('Cast', ['y'], ['z'], { attributes: [attrInt('to', TensorDataType.DOUBLE)] }),
        makeNode('Relu', ['nowhere'], ['w']),
      ],
      inputs: [makeValueInfo('x', TensorDataType.BFLOAT16, [1])],
      valueInfo: [makeValueInfo('declared', TensorDataType.INT32, [1])],
    });
    expect(inferElemType(graph, 'y')).toBe(TensorDataType.BFLOAT16);
    expect(inferElemType(graph, 'c')).toBe(TensorDataType.FLOAT16);
    expect(inferElemType(graph, 'z')).toBe(TensorDataType.DOUBLE);
    expect(inferElemType(graph, 'declared')).toBe(TensorDataType.INT32);
    expect(inferElemType(graph, 'w')).toBe(0);
    expect(makeModel(graph).graph).toBe(graph);
  });
});
