/**
 * The ONNX protobuf codec: lossless decode and encode of models, and helpers to build and edit graphs.
 *
 * A small wire-level codec for the part of onnx.proto that graph editing needs, built so that a
 * 500 MB model can be edited cheaply:
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
 * - Tensors whose data lives in a file beside the graph (external data) are kept as they are, like
 *   any tensor; `tensorValues(tensor, externalData)` reads their values from the files.
 *
 * The decoded model holds views into the input bytes: keep them alive and do not mutate them.
 * Byte arrays in decoded objects (`proto`, attribute strings) are treated as immutable; replace
 * them rather than writing into them.
 */
export { AttributeType, DataLocation, dataTypeBytes, TensorDataType } from './types.ts';
export type { Dim, Int64, OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, OpsetImport, RawField, ValueInfo } from './types.ts';
export { decodeModel, decodeTensorHeader } from './decode.ts';
export { encodeModel, encodeModelParts } from './encode.ts';
export {
  attrFloat,
  attrFloats,
  attrInt,
  attrInts,
  attrString,
  attrTensor,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  tensorRawData,
  tensorValues,
} from './build.ts';
export { attributeString, getAttribute, indexGraph, inferElemType, pruneGraph } from './graph.ts';
export { externalDataRef, makeExternalTensor, tensorBytes, type ExternalDataRef } from './external.ts';
