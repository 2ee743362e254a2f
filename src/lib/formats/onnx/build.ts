/**
 * Building new tensors, value infos, nodes, attributes, graphs and models, and reading a tensor's
 * data back as raw bytes or as numbers.
 */
import { AppError } from '../../errors.ts';
import { float16ToFloat32 } from '../float16.ts';
import { AttributeType, dataTypeBytes, TENSOR, TensorDataType } from './types.ts';
import type { Dim, Int64, OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, ValueInfo } from './types.ts';
import { concat, readRepeatedFloat, readRepeatedInt64, scanFields, utf8Encoder, WIRE_FIXED64, Writer } from './wire.ts';
import { decodeTensorHeader } from './decode.ts';
import { tensorBytes } from './external.ts';
import type { ExternalDataFile } from '../../types.ts';

type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | BigUint64Array;

/**
 * Builds a tensor (stored as raw_data, little-endian). `data` is either a typed array whose bytes
 * are used as they are (its element size must match the data type; Uint16Array for FLOAT16/BFLOAT16
 * bits), or plain numbers/bigints converted to the data type.
 */
export function makeTensor(name: string, dataType: number, dims: readonly number[], data: NumericArray | readonly (number | bigint | boolean)[]): OnnxTensor {
  const size = dataTypeBytes(dataType);
  if (!size) throw new Error(`makeTensor: unsupported data type ${dataType}`);
  const count = dims.reduce((a, b) => a * b, 1);
  let bytes: Uint8Array;
  if (ArrayBuffer.isView(data)) {
    if (data.byteLength !== count * size) throw new Error(`makeTensor: "${name}" has ${data.byteLength} bytes, expected ${count * size}`);
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    if (data.length !== count) throw new Error(`makeTensor: "${name}" has ${data.length} values, expected ${count}`);
    bytes = new Uint8Array(count * size);
    const view = new DataView(bytes.buffer);
    data.forEach((value, index) => {
      const v = typeof value === 'boolean' ? Number(value) : value;
      const at = index * size;
      switch (dataType) {
        case TensorDataType.FLOAT: view.setFloat32(at, Number(v), true); break;
        case TensorDataType.DOUBLE: view.setFloat64(at, Number(v), true); break;
        case TensorDataType.INT64: view.setBigInt64(at, BigInt(v), true); break;
        case TensorDataType.UINT64: view.setBigUint64(at, BigInt(v), true); break;
        case TensorDataType.INT32: view.setInt32(at, Number(v), true); break;
        case TensorDataType.UINT32: view.setUint32(at, Number(v), true); break;
        case TensorDataType.INT16: view.setInt16(at, Number(v), true); break;
        case TensorDataType.UINT16: case TensorDataType.FLOAT16: case TensorDataType.BFLOAT16: view.setUint16(at, Number(v), true); break;
        case TensorDataType.INT8: view.setInt8(at, Number(v)); break;
        case TensorDataType.UINT8: case TensorDataType.BOOL: view.setUint8(at, Number(v)); break;
        default: throw new Error(`makeTensor: cannot convert numbers to data type ${dataType}`);
      }
    });
  }
  const w = new Writer();
  for (const d of dims) w.varintField(TENSOR.dims, d);
  w.varintField(TENSOR.dataType, dataType);
  w.string(TENSOR.name, name);
  w.lengthDelimited(TENSOR.rawData, bytes);
  return { name, dataType, dims: [...dims], proto: concat(w.finish(), w.length) };
}

/** The raw_data bytes of a tensor (a view), or undefined if its values are stored in typed fields. */
export function tensorRawData(tensor: OnnxTensor): Uint8Array | undefined {
  return decodeTensorHeader(tensor.proto).rawData;
}

/**
 * A tensor's values as numbers (for constants and small tensors; int64 beyond 2^53 loses
 * precision). Reads raw_data, the typed float_data/int32_data/int64_data/double_data fields, or the
 * tensor's range of an external data file (`externalData`: the files loaded beside the graph).
 */
export function tensorValues(tensor: OnnxTensor, externalData?: readonly ExternalDataFile[]): number[] {
  const header = decodeTensorHeader(tensor.proto);
  const count = header.dims.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  const raw = tensorBytes(tensor, externalData);
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const size = dataTypeBytes(header.dataType);
    if (!size || raw.byteLength !== count * size) {
      throw new AppError('onnx/malformed', `Tensor "${header.name}" has ${raw.byteLength} bytes of data for ${count} values of type ${header.dataType}.`);
    }
    for (let i = 0; i < count; i++) {
      const at = i * size;
      switch (header.dataType) {
        case TensorDataType.FLOAT: out.push(view.getFloat32(at, true)); break;
        case TensorDataType.DOUBLE: out.push(view.getFloat64(at, true)); break;
        case TensorDataType.INT64: out.push(Number(view.getBigInt64(at, true))); break;
        case TensorDataType.UINT64: out.push(Number(view.getBigUint64(at, true))); break;
        case TensorDataType.INT32: out.push(view.getInt32(at, true)); break;
        case TensorDataType.UINT32: out.push(view.getUint32(at, true)); break;
        case TensorDataType.INT16: out.push(view.getInt16(at, true)); break;
        case TensorDataType.UINT16: out.push(view.getUint16(at, true)); break;
        case TensorDataType.INT8: out.push(view.getInt8(at)); break;
        case TensorDataType.UINT8: case TensorDataType.BOOL: out.push(view.getUint8(at)); break;
        case TensorDataType.FLOAT16: out.push(float16ToFloat32(view.getUint16(at, true))); break;
        case TensorDataType.BFLOAT16: out.push(new Float32Array(new Uint32Array([view.getUint16(at, true) << 16]).buffer)[0]!); break;
        default: throw new AppError('onnx/malformed', `Tensor "${header.name}" has data type ${header.dataType}, which cannot be read as numbers.`);
      }
    }
    return out;
  }
  const proto = tensor.proto;
  const view = new DataView(proto.buffer, proto.byteOffset, proto.byteLength);
  scanFields(proto, 0, proto.byteLength, (f) => {
    if (f.field === TENSOR.floatData) {
      readRepeatedFloat(proto, f, out);
    } else if (f.field === TENSOR.int32Data || f.field === TENSOR.int64Data || f.field === TENSOR.uint64Data) {
      const values: Int64[] = [];
      readRepeatedInt64(proto, f, values);
      for (const v of values) {
        let n = Number(v);
        // int32_data also carries FLOAT16/BFLOAT16 bits and small integer types.
        if (f.field === TENSOR.int32Data && header.dataType === TensorDataType.FLOAT16) n = float16ToFloat32(n);
        else if (f.field === TENSOR.int32Data && header.dataType === TensorDataType.BFLOAT16) n = new Float32Array(new Uint32Array([n << 16]).buffer)[0]!;
        else if (f.field === TENSOR.uint64Data) n = Number(BigInt.asUintN(64, BigInt(v)));
        out.push(n);
      }
    } else if (f.field === TENSOR.doubleData) {
      if (f.wire === WIRE_FIXED64) out.push(view.getFloat64(f.valueStart, true));
      else for (let pos = f.valueStart; pos + 8 <= f.end; pos += 8) out.push(view.getFloat64(pos, true));
    }
  });
  if (out.length !== count) {
    throw new AppError('onnx/malformed', `Tensor "${header.name}" has ${out.length} values but its shape ${JSON.stringify(header.dims)} needs ${count}.`);
  }
  return out;
}

/** A tensor-typed ValueInfo. Dims: numbers, dim_param names, or null for unknown; omit for unknown rank. */
export function makeValueInfo(name: string, elemType: number, dims?: readonly Dim[]): ValueInfo {
  return dims ? { name, elemType, dims: [...dims] } : { name, elemType };
}

export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  options: { name?: string; attributes?: OnnxAttribute[]; domain?: string } = {},
): OnnxNode {
  return {
    name: options.name ?? '',
    opType,
    inputs: [...inputs],
    outputs: [...outputs],
    attributes: options.attributes ?? [],
    domain: options.domain ?? '',
  };
}

export function attrFloat(name: string, value: number): OnnxAttribute {
  return { name, type: AttributeType.FLOAT, f: value };
}

export function attrInt(name: string, value: Int64): OnnxAttribute {
  return { name, type: AttributeType.INT, i: value };
}

export function attrString(name: string, value: string): OnnxAttribute {
  return { name, type: AttributeType.STRING, s: utf8Encoder.encode(value) };
}

export function attrTensor(name: string, value: OnnxTensor): OnnxAttribute {
  return { name, type: AttributeType.TENSOR, t: value };
}

export function attrFloats(name: string, values: readonly number[]): OnnxAttribute {
  return { name, type: AttributeType.FLOATS, floats: [...values] };
}

export function attrInts(name: string, values: readonly Int64[]): OnnxAttribute {
  return { name, type: AttributeType.INTS, ints: [...values] };
}

export function makeGraph(parts: Partial<OnnxGraph> & Pick<OnnxGraph, 'nodes'>): OnnxGraph {
  const graph: OnnxGraph = {
    nodes: parts.nodes,
    initializers: parts.initializers ?? [],
    inputs: parts.inputs ?? [],
    outputs: parts.outputs ?? [],
    valueInfo: parts.valueInfo ?? [],
  };
  if (parts.name !== undefined) graph.name = parts.name;
  if (parts.unknownFields) graph.unknownFields = parts.unknownFields;
  return graph;
}

/** A model importing the default ai.onnx domain at `opset` (ir_version 8 suits opsets 13..17). */
export function makeModel(graph: OnnxGraph, options: { opset?: number; irVersion?: number; producerName?: string } = {}): OnnxModel {
  const model: OnnxModel = {
    irVersion: options.irVersion ?? 8,
    opsetImports: [{ domain: '', version: options.opset ?? 17 }],
    graph,
  };
  if (options.producerName !== undefined) model.producerName = options.producerName;
  return model;
}
