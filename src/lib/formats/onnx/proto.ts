/**
 * A small wire-level codec for the part of onnx.proto that graph editing needs.
 *
 * Built so that a 500 MB model can be edited cheaply:
 * - Decoding never copies weight bytes. Initializers (and tensor attributes) stay as views
 *   (`subarray`) of the input: only their name, dims and data type are read, by skipping over
 *   the data field. Fields this codec does not model are kept as raw byte ranges (tag included)
 *   and written back untouched, in field-number order, like every protobuf serializer does.
 * - Each decoded node, attribute and value info remembers its source bytes and a snapshot of
 *   its decoded value; if it is unchanged at encode time the source bytes are written back, so a
 *   decode -> encode round trip is byte-identical and an edit only re-encodes what it touched.
 * - Encoding collects parts (small buffers plus the untouched weight views) and concatenates
 *   them once at the end (`encodeModel`), or hands the parts over (`encodeModelParts`, e.g. for
 *   `new Blob(parts)`).
 *
 * The decoded model holds views into the input bytes: keep them alive and do not mutate them.
 * Byte arrays in decoded objects (`proto`, attribute strings) are treated as immutable; replace
 * them rather than writing into them.
 */
import { AppError } from '../../errors.ts';
import { float16ToFloat32 } from '../float16.ts';

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
const MODEL = { irVersion: 1, producerName: 2, graph: 7, opsetImport: 8 } as const;
const OPSET = { domain: 1, version: 2 } as const;
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
const ATTR = { name: 1, f: 2, i: 3, s: 4, t: 5, floats: 7, ints: 8, strings: 9, tensors: 10, type: 20 } as const;
const TENSOR = { dims: 1, dataType: 2, floatData: 4, int32Data: 5, int64Data: 7, name: 8, rawData: 9, doubleData: 10, uint64Data: 11, dataLocation: 14 } as const;
const VALUE_INFO = { name: 1, type: 2 } as const;
const TYPE = { tensorType: 1 } as const;
const TYPE_TENSOR = { elemType: 1, shape: 2 } as const;
const SHAPE = { dim: 1 } as const;
const DIM = { value: 1, param: 2 } as const;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

// ---------------------------------------------------------------------------------------------
// Wire reading

function malformed(message: string): never {
  throw new AppError('onnx/malformed', `The ONNX file is malformed: ${message}. Is it a complete .onnx file?`);
}

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** Reads an unsigned varint that fits in 2^53 (tags, lengths, enums, dims). Returns [value, next]. */
function readVarint(buf: Uint8Array, pos: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) malformed('a varint runs past the end of its message');
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (i === 9 && b > 1) malformed('a varint has more than 64 bits');
      return [value, pos];
    }
    scale *= 128;
  }
  return malformed('a varint is longer than 10 bytes');
}

/** Reads a varint as a signed int64 (two's complement). Returns [value, next]. */
function readVarint64(buf: Uint8Array, pos: number, end: number): [Int64, number] {
  let lo = 0;
  let hi = 0;
  let b = 0;
  let i = 0;
  for (; i < 4; i++) {
    if (pos >= end) malformed('a varint runs past the end of its message');
    b = buf[pos++]!;
    lo |= (b & 0x7f) << (i * 7);
    if (b < 0x80) return [lo >>> 0, pos];
  }
  if (pos >= end) malformed('a varint runs past the end of its message');
  b = buf[pos++]!;
  lo |= (b & 0x0f) << 28;
  hi = (b & 0x7f) >> 4;
  if (b >= 0x80) {
    let done = false;
    for (i = 0; i < 5; i++) {
      if (pos >= end) malformed('a varint runs past the end of its message');
      b = buf[pos++]!;
      hi |= (b & 0x7f) << (i * 7 + 3);
      if (b < 0x80) {
        done = true;
        break;
      }
    }
    if (!done) malformed('a varint is longer than 10 bytes');
  }
  lo >>>= 0;
  hi >>>= 0;
  if (hi & 0x80000000) {
    // Negative: value = -(2^64 - (hi:lo)).
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    if (nhi <= 0x1fffff) return [-(nhi * 4294967296 + nlo), pos];
    return [BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)), pos];
  }
  if (hi <= 0x1fffff) return [hi * 4294967296 + lo, pos];
  return [(BigInt(hi) << 32n) | BigInt(lo), pos];
}

/** Decodes a length-delimited string field. */
function readString(buf: Uint8Array, start: number, end: number): string {
  return utf8.decode(buf.subarray(start, end));
}

interface Field {
  field: number;
  wire: number;
  /** Offset of the tag. */
  start: number;
  /** Offset of the value (after the length prefix for length-delimited fields). */
  valueStart: number;
  /** Offset just past the field. */
  end: number;
}

/** Walks the fields of a message in buf[start, end), calling `visit` for each. */
function scanFields(buf: Uint8Array, start: number, end: number, visit: (f: Field) => void): void {
  let pos = start;
  const field: Field = { field: 0, wire: 0, start: 0, valueStart: 0, end: 0 };
  while (pos < end) {
    const fieldStart = pos;
    let tag: number;
    [tag, pos] = readVarint(buf, pos, end);
    const wire = tag & 7;
    const number = Math.floor(tag / 8);
    if (number === 0) malformed('a field has number 0');
    let valueStart = pos;
    switch (wire) {
      case WIRE_VARINT: {
        while (true) {
          if (pos >= end) malformed('a varint runs past the end of its message');
          if (buf[pos++]! < 0x80) break;
        }
        break;
      }
      case WIRE_FIXED64: pos += 8; break;
      case WIRE_FIXED32: pos += 4; break;
      case WIRE_LEN: {
        let length: number;
        [length, pos] = readVarint(buf, pos, end);
        valueStart = pos;
        pos += length;
        break;
      }
      default:
        malformed(`field ${number} has unsupported wire type ${wire}`);
    }
    if (pos > end) malformed(`field ${number} runs past the end of its message`);
    field.field = number;
    field.wire = wire;
    field.start = fieldStart;
    field.valueStart = valueStart;
    field.end = pos;
    visit(field);
  }
}

function expectWire(f: Field, wire: number, what: string): void {
  if (f.wire !== wire) malformed(`${what} (field ${f.field}) has wire type ${f.wire}, expected ${wire}`);
}

function raw(buf: Uint8Array, f: Field): RawField {
  return { field: f.field, bytes: buf.subarray(f.start, f.end) };
}

/** Reads repeated varints (packed or not) into `out`. */
function readRepeatedInt64(buf: Uint8Array, f: Field, out: Int64[]): void {
  if (f.wire === WIRE_VARINT) {
    out.push(readVarint64(buf, f.valueStart, f.end)[0]);
  } else if (f.wire === WIRE_LEN) {
    let pos = f.valueStart;
    while (pos < f.end) {
      let value: Int64;
      [value, pos] = readVarint64(buf, pos, f.end);
      out.push(value);
    }
  } else {
    malformed(`repeated int field ${f.field} has wire type ${f.wire}`);
  }
}

/** Reads repeated float32s (packed or not) into `out`. */
function readRepeatedFloat(buf: Uint8Array, f: Field, out: number[]): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (f.wire === WIRE_FIXED32) {
    out.push(view.getFloat32(f.valueStart, true));
  } else if (f.wire === WIRE_LEN) {
    if ((f.end - f.valueStart) % 4 !== 0) malformed(`packed float field ${f.field} is not a multiple of 4 bytes`);
    for (let pos = f.valueStart; pos < f.end; pos += 4) out.push(view.getFloat32(pos, true));
  } else {
    malformed(`repeated float field ${f.field} has wire type ${f.wire}`);
  }
}

function toSafeNumber(value: Int64, what: string): number {
  if (typeof value === 'bigint') malformed(`${what} ${value} is too large`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Remembering where decoded objects came from

interface Source {
  bytes: Uint8Array;
  snapshot: unknown;
}

/** Decoded object -> its source bytes and a snapshot of its decoded value. */
const sources = new WeakMap<object, Source>();

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (value instanceof Uint8Array) return value; // immutable by convention
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = clone(v);
    return out;
  }
  return value;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  if (a.buffer === b.buffer && a.byteOffset === b.byteOffset) return true;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    for (const k of ka) if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
    return true;
  }
  return false;
}

function remember<T extends object>(value: T, bytes: Uint8Array): T {
  sources.set(value, { bytes, snapshot: clone(value) });
  return value;
}

/** The object's source bytes if it is unchanged since decoding. */
function unchangedSource(value: object): Uint8Array | undefined {
  const source = sources.get(value);
  return source && same(value, source.snapshot) ? source.bytes : undefined;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Reads name, dims, data type (and where raw_data lies) from an encoded TensorProto, skipping the data. */
export function decodeTensorHeader(proto: Uint8Array): { name: string; dataType: number; dims: number[]; rawData?: Uint8Array; externalData: boolean } {
  let name = '';
  let dataType = 0;
  const dims: number[] = [];
  let rawData: Uint8Array | undefined;
  let externalData = false;
  scanFields(proto, 0, proto.byteLength, (f) => {
    switch (f.field) {
      case TENSOR.dims: {
        const values: Int64[] = [];
        readRepeatedInt64(proto, f, values);
        for (const v of values) dims.push(toSafeNumber(v, 'a tensor dimension'));
        break;
      }
      case TENSOR.dataType:
        expectWire(f, WIRE_VARINT, 'TensorProto.data_type');
        dataType = readVarint(proto, f.valueStart, f.end)[0];
        break;
      case TENSOR.name:
        expectWire(f, WIRE_LEN, 'TensorProto.name');
        name = readString(proto, f.valueStart, f.end);
        break;
      case TENSOR.rawData:
        expectWire(f, WIRE_LEN, 'TensorProto.raw_data');
        rawData = proto.subarray(f.valueStart, f.end);
        break;
      case TENSOR.dataLocation:
        externalData = readVarint(proto, f.valueStart, f.end)[0] === 1;
        break;
    }
  });
  return rawData ? { name, dataType, dims, rawData, externalData } : { name, dataType, dims, externalData };
}

function decodeTensor(proto: Uint8Array): OnnxTensor {
  const { name, dataType, dims } = decodeTensorHeader(proto);
  return { name, dataType, dims, proto };
}

function decodeDims(buf: Uint8Array, start: number, end: number): Dim[] {
  const dims: Dim[] = [];
  scanFields(buf, start, end, (f) => {
    if (f.field !== SHAPE.dim) return;
    expectWire(f, WIRE_LEN, 'TensorShapeProto.dim');
    let dim: Dim = null;
    scanFields(buf, f.valueStart, f.end, (g) => {
      if (g.field === DIM.value) {
        expectWire(g, WIRE_VARINT, 'Dimension.dim_value');
        dim = toSafeNumber(readVarint64(buf, g.valueStart, g.end)[0], 'a dimension');
      } else if (g.field === DIM.param) {
        expectWire(g, WIRE_LEN, 'Dimension.dim_param');
        dim = readString(buf, g.valueStart, g.end);
      }
    });
    dims.push(dim);
  });
  return dims;
}

function decodeValueInfo(buf: Uint8Array, start: number, end: number): ValueInfo {
  let name = '';
  let elemType = 0;
  let dims: Dim[] | undefined;
  const unknownFields: RawField[] = [];
  scanFields(buf, start, end, (f) => {
    if (f.field === VALUE_INFO.name) {
      expectWire(f, WIRE_LEN, 'ValueInfoProto.name');
      name = readString(buf, f.valueStart, f.end);
    } else if (f.field === VALUE_INFO.type) {
      expectWire(f, WIRE_LEN, 'ValueInfoProto.type');
      scanFields(buf, f.valueStart, f.end, (g) => {
        if (g.field !== TYPE.tensorType || g.wire !== WIRE_LEN) return;
        scanFields(buf, g.valueStart, g.end, (h) => {
          if (h.field === TYPE_TENSOR.elemType && h.wire === WIRE_VARINT) elemType = readVarint(buf, h.valueStart, h.end)[0];
          else if (h.field === TYPE_TENSOR.shape && h.wire === WIRE_LEN) dims = decodeDims(buf, h.valueStart, h.end);
        });
      });
    } else {
      unknownFields.push(raw(buf, f));
    }
  });
  const info: ValueInfo = { name, elemType };
  if (dims) info.dims = dims;
  if (unknownFields.length) info.unknownFields = unknownFields;
  return remember(info, buf.subarray(start, end));
}

function decodeAttribute(buf: Uint8Array, start: number, end: number): OnnxAttribute {
  const attribute: OnnxAttribute = { name: '', type: 0 };
  const unknownFields: RawField[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  scanFields(buf, start, end, (f) => {
    switch (f.field) {
      case ATTR.name:
        expectWire(f, WIRE_LEN, 'AttributeProto.name');
        attribute.name = readString(buf, f.valueStart, f.end);
        break;
      case ATTR.f:
        expectWire(f, WIRE_FIXED32, 'AttributeProto.f');
        attribute.f = view.getFloat32(f.valueStart, true);
        break;
      case ATTR.i:
        expectWire(f, WIRE_VARINT, 'AttributeProto.i');
        attribute.i = readVarint64(buf, f.valueStart, f.end)[0];
        break;
      case ATTR.s:
        expectWire(f, WIRE_LEN, 'AttributeProto.s');
        attribute.s = buf.subarray(f.valueStart, f.end);
        break;
      case ATTR.t:
        expectWire(f, WIRE_LEN, 'AttributeProto.t');
        attribute.t = decodeTensor(buf.subarray(f.valueStart, f.end));
        break;
      case ATTR.floats:
        readRepeatedFloat(buf, f, (attribute.floats ??= []));
        break;
      case ATTR.ints:
        readRepeatedInt64(buf, f, (attribute.ints ??= []));
        break;
      case ATTR.strings:
        expectWire(f, WIRE_LEN, 'AttributeProto.strings');
        (attribute.strings ??= []).push(buf.subarray(f.valueStart, f.end));
        break;
      case ATTR.tensors:
        expectWire(f, WIRE_LEN, 'AttributeProto.tensors');
        (attribute.tensors ??= []).push(decodeTensor(buf.subarray(f.valueStart, f.end)));
        break;
      case ATTR.type:
        expectWire(f, WIRE_VARINT, 'AttributeProto.type');
        attribute.type = readVarint(buf, f.valueStart, f.end)[0];
        break;
      default:
        unknownFields.push(raw(buf, f));
    }
  });
  if (unknownFields.length) attribute.unknownFields = unknownFields;
  return remember(attribute, buf.subarray(start, end));
}

function decodeNode(buf: Uint8Array, start: number, end: number): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', inputs: [], outputs: [], attributes: [], domain: '' };
  const unknownFields: RawField[] = [];
  scanFields(buf, start, end, (f) => {
    switch (f.field) {
      case NODE.input:
        expectWire(f, WIRE_LEN, 'NodeProto.input');
        node.inputs.push(readString(buf, f.valueStart, f.end));
        break;
      case NODE.output:
        expectWire(f, WIRE_LEN, 'NodeProto.output');
        node.outputs.push(readString(buf, f.valueStart, f.end));
        break;
      case NODE.name:
        expectWire(f, WIRE_LEN, 'NodeProto.name');
        node.name = readString(buf, f.valueStart, f.end);
        break;
      case NODE.opType:
        expectWire(f, WIRE_LEN, 'NodeProto.op_type');
        node.opType = readString(buf, f.valueStart, f.end);
        break;
      case NODE.attribute:
        expectWire(f, WIRE_LEN, 'NodeProto.attribute');
        node.attributes.push(decodeAttribute(buf, f.valueStart, f.end));
        break;
      case NODE.domain:
        expectWire(f, WIRE_LEN, 'NodeProto.domain');
        node.domain = readString(buf, f.valueStart, f.end);
        break;
      default:
        unknownFields.push(raw(buf, f));
    }
  });
  if (unknownFields.length) node.unknownFields = unknownFields;
  return remember(node, buf.subarray(start, end));
}

function decodeGraph(buf: Uint8Array, start: number, end: number): OnnxGraph {
  const graph: OnnxGraph = { nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
  const unknownFields: RawField[] = [];
  scanFields(buf, start, end, (f) => {
    switch (f.field) {
      case GRAPH.node:
        expectWire(f, WIRE_LEN, 'GraphProto.node');
        graph.nodes.push(decodeNode(buf, f.valueStart, f.end));
        break;
      case GRAPH.name:
        expectWire(f, WIRE_LEN, 'GraphProto.name');
        graph.name = readString(buf, f.valueStart, f.end);
        break;
      case GRAPH.initializer:
        expectWire(f, WIRE_LEN, 'GraphProto.initializer');
        graph.initializers.push(decodeTensor(buf.subarray(f.valueStart, f.end)));
        break;
      case GRAPH.input:
        expectWire(f, WIRE_LEN, 'GraphProto.input');
        graph.inputs.push(decodeValueInfo(buf, f.valueStart, f.end));
        break;
      case GRAPH.output:
        expectWire(f, WIRE_LEN, 'GraphProto.output');
        graph.outputs.push(decodeValueInfo(buf, f.valueStart, f.end));
        break;
      case GRAPH.valueInfo:
        expectWire(f, WIRE_LEN, 'GraphProto.value_info');
        graph.valueInfo.push(decodeValueInfo(buf, f.valueStart, f.end));
        break;
      default:
        unknownFields.push(raw(buf, f));
    }
  });
  if (unknownFields.length) graph.unknownFields = unknownFields;
  return graph;
}

/**
 * Decodes a ModelProto. Weight bytes are not copied: initializers are views into `bytes`.
 * Throws AppError('onnx/malformed') on a broken or truncated file.
 */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  let irVersion = 0;
  let producerName: string | undefined;
  const opsetImports: OpsetImport[] = [];
  let graph: OnnxGraph | undefined;
  const unknownFields: RawField[] = [];
  scanFields(bytes, 0, bytes.byteLength, (f) => {
    switch (f.field) {
      case MODEL.irVersion:
        expectWire(f, WIRE_VARINT, 'ModelProto.ir_version');
        irVersion = toSafeNumber(readVarint64(bytes, f.valueStart, f.end)[0], 'ir_version');
        break;
      case MODEL.producerName:
        expectWire(f, WIRE_LEN, 'ModelProto.producer_name');
        producerName = readString(bytes, f.valueStart, f.end);
        break;
      case MODEL.opsetImport: {
        expectWire(f, WIRE_LEN, 'ModelProto.opset_import');
        const opset: OpsetImport = { version: 0 };
        scanFields(bytes, f.valueStart, f.end, (g) => {
          if (g.field === OPSET.domain && g.wire === WIRE_LEN) opset.domain = readString(bytes, g.valueStart, g.end);
          else if (g.field === OPSET.version && g.wire === WIRE_VARINT) opset.version = toSafeNumber(readVarint64(bytes, g.valueStart, g.end)[0], 'opset version');
        });
        opsetImports.push(remember(opset, bytes.subarray(f.valueStart, f.end)));
        break;
      }
      case MODEL.graph:
        expectWire(f, WIRE_LEN, 'ModelProto.graph');
        graph = decodeGraph(bytes, f.valueStart, f.end);
        break;
      default:
        unknownFields.push(raw(bytes, f));
    }
  });
  if (!graph) malformed('the model has no graph');
  const model: OnnxModel = { irVersion, opsetImports, graph };
  if (producerName !== undefined) model.producerName = producerName;
  if (unknownFields.length) model.unknownFields = unknownFields;
  return model;
}

// ---------------------------------------------------------------------------------------------
// Wire writing

const SMALL_COPY = 1024;

/** Collects encoded bytes as a list of parts; large byte ranges are referenced, not copied. */
class Writer {
  readonly parts: Uint8Array[] = [];
  length = 0;
  private buf = new Uint8Array(256);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    this.flush();
    this.buf = new Uint8Array(Math.max(4096, n));
  }

  private flush(): void {
    if (this.pos > 0) {
      this.parts.push(this.buf.subarray(0, this.pos));
      this.buf = this.buf.subarray(this.pos);
      this.pos = 0;
    }
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
    this.length++;
  }

  /** Non-negative integer up to 2^53. */
  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      this.varint64(value);
      return;
    }
    this.ensure(10);
    let n = 0;
    while (value >= 0x80) {
      this.buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
      n++;
    }
    this.buf[this.pos++] = value;
    this.length += n + 1;
  }

  /** Any int64 (negative values become 10-byte two's-complement varints). */
  varint64(value: Int64): void {
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) throw new Error(`onnx-proto: ${value} is not an integer`);
      if (value >= 0 && Number.isSafeInteger(value)) {
        this.varint(value);
        return;
      }
    }
    let v = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    let n = 0;
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
      n++;
    }
    this.buf[this.pos++] = Number(v);
    this.length += n + 1;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(data: Uint8Array): void {
    if (data.byteLength <= SMALL_COPY) {
      this.ensure(data.byteLength);
      this.buf.set(data, this.pos);
      this.pos += data.byteLength;
    } else {
      this.flush();
      this.parts.push(data);
    }
    this.length += data.byteLength;
  }

  float32(value: number): void {
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).setFloat32(0, value, true);
    this.pos += 4;
    this.length += 4;
  }

  lengthDelimited(field: number, data: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(data.byteLength);
    this.bytes(data);
  }

  string(field: number, value: string): void {
    this.lengthDelimited(field, utf8Encoder.encode(value));
  }

  varintField(field: number, value: Int64): void {
    this.tag(field, WIRE_VARINT);
    this.varint64(value);
  }

  message(field: number, child: Writer): void {
    const parts = child.finish();
    this.tag(field, WIRE_LEN);
    this.varint(child.length);
    this.flush();
    for (const part of parts) this.parts.push(part);
    this.length += child.length;
  }

  finish(): Uint8Array[] {
    this.flush();
    return this.parts;
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

type Emit = [field: number, write: (w: Writer) => void];

/** Writes known fields and raw unknown fields, all in field-number order (stable). */
function writeOrdered(w: Writer, known: Emit[], unknownFields: RawField[] | undefined): void {
  const all: Emit[] = [...known];
  for (const rawField of unknownFields ?? []) all.push([rawField.field, (ww) => ww.bytes(rawField.bytes)]);
  all.sort((a, b) => a[0] - b[0]); // Array.prototype.sort is stable
  for (const [, write] of all) write(w);
}

function writeTensorMessage(w: Writer, field: number, tensor: OnnxTensor): void {
  w.lengthDelimited(field, encodeTensorProto(tensor));
}

/** The TensorProto bytes for a tensor, re-encoding name/dims/data_type only if they changed. */
function encodeTensorProto(tensor: OnnxTensor): Uint8Array {
  const header = decodeTensorHeader(tensor.proto);
  if (header.name === tensor.name && header.dataType === tensor.dataType && same(header.dims, tensor.dims)) return tensor.proto;
  const w = new Writer();
  const rest: RawField[] = [];
  scanFields(tensor.proto, 0, tensor.proto.byteLength, (f) => {
    if (f.field !== TENSOR.dims && f.field !== TENSOR.dataType && f.field !== TENSOR.name) rest.push(raw(tensor.proto, f));
  });
  writeOrdered(w, [
    [TENSOR.dims, (ww) => { for (const d of tensor.dims) ww.varintField(TENSOR.dims, d); }],
    [TENSOR.dataType, (ww) => ww.varintField(TENSOR.dataType, tensor.dataType)],
    [TENSOR.name, (ww) => ww.string(TENSOR.name, tensor.name)],
  ], rest);
  return concat(w.finish(), w.length);
}

function encodeValueInfo(info: ValueInfo): Writer {
  const w = new Writer();
  const source = unchangedSource(info);
  if (source) {
    w.bytes(source);
    return w;
  }
  writeOrdered(w, [
    [VALUE_INFO.name, (ww) => ww.string(VALUE_INFO.name, info.name)],
    [VALUE_INFO.type, (ww) => {
      const tensorType = new Writer();
      if (info.elemType) tensorType.varintField(TYPE_TENSOR.elemType, info.elemType);
      if (info.dims) {
        const shape = new Writer();
        for (const dim of info.dims) {
          const d = new Writer();
          if (typeof dim === 'number') d.varintField(DIM.value, dim);
          else if (typeof dim === 'string') d.string(DIM.param, dim);
          shape.message(SHAPE.dim, d);
        }
        tensorType.message(TYPE_TENSOR.shape, shape);
      }
      const type = new Writer();
      type.message(TYPE.tensorType, tensorType);
      ww.message(VALUE_INFO.type, type);
    }],
  ], info.unknownFields);
  return w;
}

function encodeAttribute(attribute: OnnxAttribute): Writer {
  const w = new Writer();
  const source = unchangedSource(attribute);
  if (source) {
    w.bytes(source);
    return w;
  }
  const known: Emit[] = [[ATTR.name, (ww) => ww.string(ATTR.name, attribute.name)]];
  if (attribute.f !== undefined) {
    const f = attribute.f;
    known.push([ATTR.f, (ww) => { ww.tag(ATTR.f, WIRE_FIXED32); ww.float32(f); }]);
  }
  if (attribute.i !== undefined) {
    const i = attribute.i;
    known.push([ATTR.i, (ww) => ww.varintField(ATTR.i, i)]);
  }
  if (attribute.s !== undefined) {
    const s = attribute.s;
    known.push([ATTR.s, (ww) => ww.lengthDelimited(ATTR.s, s)]);
  }
  if (attribute.t !== undefined) {
    const t = attribute.t;
    known.push([ATTR.t, (ww) => writeTensorMessage(ww, ATTR.t, t)]);
  }
  if (attribute.floats?.length) {
    const floats = attribute.floats;
    known.push([ATTR.floats, (ww) => { for (const v of floats) { ww.tag(ATTR.floats, WIRE_FIXED32); ww.float32(v); } }]);
  }
  if (attribute.ints?.length) {
    const ints = attribute.ints;
    known.push([ATTR.ints, (ww) => { for (const v of ints) ww.varintField(ATTR.ints, v); }]);
  }
  if (attribute.strings?.length) {
    const strings = attribute.strings;
    known.push([ATTR.strings, (ww) => { for (const v of strings) ww.lengthDelimited(ATTR.strings, v); }]);
  }
  if (attribute.tensors?.length) {
    const tensors = attribute.tensors;
    known.push([ATTR.tensors, (ww) => { for (const t of tensors) writeTensorMessage(ww, ATTR.tensors, t); }]);
  }
  known.push([ATTR.type, (ww) => ww.varintField(ATTR.type, attribute.type)]);
  writeOrdered(w, known, attribute.unknownFields);
  return w;
}

function encodeNode(node: OnnxNode): Writer {
  const w = new Writer();
  const source = unchangedSource(node);
  if (source) {
    w.bytes(source);
    return w;
  }
  const known: Emit[] = [
    [NODE.input, (ww) => { for (const s of node.inputs) ww.string(NODE.input, s); }],
    [NODE.output, (ww) => { for (const s of node.outputs) ww.string(NODE.output, s); }],
    [NODE.opType, (ww) => ww.string(NODE.opType, node.opType)],
    [NODE.attribute, (ww) => { for (const a of node.attributes) ww.message(NODE.attribute, encodeAttribute(a)); }],
  ];
  if (node.name) known.push([NODE.name, (ww) => ww.string(NODE.name, node.name)]);
  if (node.domain) known.push([NODE.domain, (ww) => ww.string(NODE.domain, node.domain)]);
  writeOrdered(w, known, node.unknownFields);
  return w;
}

function encodeGraph(graph: OnnxGraph): Writer {
  const w = new Writer();
  const known: Emit[] = [
    [GRAPH.node, (ww) => { for (const n of graph.nodes) ww.message(GRAPH.node, encodeNode(n)); }],
    [GRAPH.initializer, (ww) => { for (const t of graph.initializers) writeTensorMessage(ww, GRAPH.initializer, t); }],
    [GRAPH.input, (ww) => { for (const v of graph.inputs) ww.message(GRAPH.input, encodeValueInfo(v)); }],
    [GRAPH.output, (ww) => { for (const v of graph.outputs) ww.message(GRAPH.output, encodeValueInfo(v)); }],
    [GRAPH.valueInfo, (ww) => { for (const v of graph.valueInfo) ww.message(GRAPH.valueInfo, encodeValueInfo(v)); }],
  ];
  if (graph.name !== undefined) {
    const name = graph.name;
    known.push([GRAPH.name, (ww) => ww.string(GRAPH.name, name)]);
  }
  writeOrdered(w, known, graph.unknownFields);
  return w;
}

/** Encodes a model as a list of parts (weights are the original views, not copies) and their total length. */
export function encodeModelParts(model: OnnxModel): { parts: Uint8Array[]; length: number } {
  const w = new Writer();
  const known: Emit[] = [
    [MODEL.irVersion, (ww) => ww.varintField(MODEL.irVersion, model.irVersion)],
    [MODEL.graph, (ww) => ww.message(MODEL.graph, encodeGraph(model.graph))],
    [MODEL.opsetImport, (ww) => {
      for (const opset of model.opsetImports) {
        const source = unchangedSource(opset);
        if (source) {
          ww.lengthDelimited(MODEL.opsetImport, source);
          continue;
        }
        const o = new Writer();
        if (opset.domain !== undefined) o.string(OPSET.domain, opset.domain);
        o.varintField(OPSET.version, opset.version);
        ww.message(MODEL.opsetImport, o);
      }
    }],
  ];
  if (model.producerName !== undefined) {
    const name = model.producerName;
    known.push([MODEL.producerName, (ww) => ww.string(MODEL.producerName, name)]);
  }
  writeOrdered(w, known, model.unknownFields);
  return { parts: w.finish(), length: w.length };
}

/** Encodes a model into one buffer. Unchanged parts are written back byte for byte. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const { parts, length } = encodeModelParts(model);
  return concat(parts, length);
}

// ---------------------------------------------------------------------------------------------
// Builders

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
 * precision). Reads raw_data or the typed float_data/int32_data/int64_data/double_data fields.
 */
export function tensorValues(tensor: OnnxTensor): number[] {
  const header = decodeTensorHeader(tensor.proto);
  if (header.externalData) {
    throw new AppError('onnx/malformed', `Tensor "${header.name}" keeps its data in an external file, which is not supported here. Use a single-file .onnx model.`);
  }
  const count = header.dims.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  if (header.rawData) {
    const raw = header.rawData;
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

// ---------------------------------------------------------------------------------------------
// Reading and editing helpers

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
