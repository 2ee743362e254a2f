/**
 * Encoding a model back to ModelProto bytes. Unchanged objects are written back from their source
 * bytes, and raw unknown fields go back among the known ones in field-number order.
 */
import { ATTR, DIM, GRAPH, MODEL, NODE, OPSET, SHAPE, TENSOR, TYPE, TYPE_TENSOR, VALUE_INFO } from './types.ts';
import type { OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, RawField, ValueInfo } from './types.ts';
import { concat, raw, scanFields, WIRE_FIXED32, Writer } from './wire.ts';
import { same, unchangedSource } from './sources.ts';
import { decodeTensorHeader } from './decode.ts';

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
