/**
 * Decoding a ModelProto. Weight bytes are never copied: tensors stay views of the input, and fields
 * this codec does not model are kept as raw byte ranges.
 */
import { ATTR, DIM, GRAPH, MODEL, NODE, OPSET, SHAPE, TENSOR, TYPE, TYPE_TENSOR, VALUE_INFO } from './types.ts';
import type { Dim, Int64, OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, OpsetImport, RawField, ValueInfo } from './types.ts';
import { expectWire, malformed, raw, readRepeatedFloat, readRepeatedInt64, readString, readVarint, readVarint64, scanFields, toSafeNumber, WIRE_FIXED32, WIRE_LEN, WIRE_VARINT } from './wire.ts';
import { remember } from './sources.ts';

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
