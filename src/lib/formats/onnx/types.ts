/**
 * The ONNX messages as this codec models them: the tensor and attribute type tables, the shapes of a
 * decoded model, graph, node and tensor, and the onnx.proto field numbers the codec reads and writes.
 */

// ---------------------------------------------------------------------------------------------
// Enums

/** TensorProto.DataType. */
export const TensorDataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/** Bytes per element of the fixed-size tensor data types (0 for STRING and unknown types). */
export function dataTypeBytes(dataType: number): number {
  switch (dataType) {
    case TensorDataType.FLOAT: case TensorDataType.INT32: case TensorDataType.UINT32: return 4;
    case TensorDataType.UINT8: case TensorDataType.INT8: case TensorDataType.BOOL: return 1;
    case TensorDataType.UINT16: case TensorDataType.INT16: case TensorDataType.FLOAT16: case TensorDataType.BFLOAT16: return 2;
    case TensorDataType.INT64: case TensorDataType.UINT64: case TensorDataType.DOUBLE: case TensorDataType.COMPLEX64: return 8;
    case TensorDataType.COMPLEX128: return 16;
    default: return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Types

/** An int64 value: a number when it fits in 2^53, else a bigint (e.g. INT64_MAX in Slice attributes). */
export type Int64 = number | bigint;

/** A field this codec does not model, kept as its exact bytes (tag included). */
export interface RawField {
  field: number;
  bytes: Uint8Array;
}

export interface OpsetImport {
  /** '' (or absent) is the default ai.onnx domain. */
  domain?: string;
  version: number;
}

/**
 * A TensorProto (initializer or tensor attribute). `proto` is the whole encoded message,
 * normally a view into the model file; name, dims and dataType are decoded from it. Changing
 * name/dims/dataType re-encodes those fields at encode time and copies the rest untouched.
 */
export interface OnnxTensor {
  name: string;
  dataType: number;
  dims: number[];
  proto: Uint8Array;
}

/** One dimension: a size, a symbolic name (dim_param), or null when neither is set. */
export type Dim = number | string | null;

/** A ValueInfoProto of tensor type. `dims` undefined means the shape (and rank) is unknown. */
export interface ValueInfo {
  name: string;
  /** TensorDataType; 0 when the type is absent or not a tensor type. */
  elemType: number;
  dims?: Dim[];
  unknownFields?: RawField[];
}

export interface OnnxAttribute {
  name: string;
  /** AttributeType. */
  type: number;
  f?: number;
  i?: Int64;
  /** Raw bytes (onnx `bytes`); see `attributeString`. */
  s?: Uint8Array;
  t?: OnnxTensor;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: OnnxTensor[];
  /** Subgraphs, type protos, doc strings, ... kept raw. */
  unknownFields?: RawField[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
  /** '' is the default ai.onnx domain. */
  domain: string;
  unknownFields?: RawField[];
}

export interface OnnxGraph {
  name?: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  unknownFields?: RawField[];
}

export interface OnnxModel {
  irVersion: number;
  producerName?: string;
  opsetImports: OpsetImport[];
  graph: OnnxGraph;
  /** producer_version, doc_string, metadata_props, functions, ... kept raw. */
  unknownFields?: RawField[];
}

// Field numbers.
export const MODEL = { irVersion: 1, producerName: 2, graph: 7, opsetImport: 8 } as const;
export const OPSET = { domain: 1, version: 2 } as const;
export const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
export const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
export const ATTR = { name: 1, f: 2, i: 3, s: 4, t: 5, floats: 7, ints: 8, strings: 9, tensors: 10, type: 20 } as const;
export const TENSOR = { dims: 1, dataType: 2, floatData: 4, int32Data: 5, int64Data: 7, name: 8, rawData: 9, doubleData: 10, uint64Data: 11, externalData: 13, dataLocation: 14 } as const;
/** StringStringEntryProto (TensorProto.external_data's entries). */
export const STRING_ENTRY = { key: 1, value: 2 } as const;
/** TensorProto.DataLocation. */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;
export const VALUE_INFO = { name: 1, type: 2 } as const;
export const TYPE = { tensorType: 1 } as const;
export const TYPE_TENSOR = { elemType: 1, shape: 2 } as const;
export const SHAPE = { dim: 1 } as const;
export const DIM = { value: 1, param: 2 } as const;
