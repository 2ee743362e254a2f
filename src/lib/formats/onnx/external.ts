/**
 * Tensors whose bytes live in a file beside the graph (ONNX external data: data_location EXTERNAL and
 * `external_data` entries location / offset / length). Exports over 2 GB must store weights this way
 * (protobuf's limit), and Optimum does so for large models (`model.onnx_data`). The codec keeps such
 * tensors as they are; these functions find their bytes in the files, and build them (for fixtures).
 */
import { AppError } from '../../errors.ts';
import type { ExternalDataFile } from '../../types.ts';
import { DataLocation, dataTypeBytes, STRING_ENTRY, TENSOR } from './types.ts';
import type { OnnxTensor } from './types.ts';
import { decodeTensorHeader } from './decode.ts';
import { concat, readString, scanFields, WIRE_LEN, Writer } from './wire.ts';

/** Where an external tensor's bytes are: a file named relative to the graph's folder, and a byte range in it. */
export interface ExternalDataRef {
  location: string;
  offset: number;
  /** Absent means "the tensor's size" (the ONNX spec allows leaving it out). */
  length?: number;
}

/** The tensor's external_data entries, or undefined when its data is stored in the graph. */
export function externalDataRef(tensor: OnnxTensor): ExternalDataRef | undefined {
  if (!decodeTensorHeader(tensor.proto).externalData) return undefined;
  const proto = tensor.proto;
  const entries = new Map<string, string>();
  scanFields(proto, 0, proto.byteLength, (f) => {
    if (f.field !== TENSOR.externalData || f.wire !== WIRE_LEN) return;
    let key = '';
    let value = '';
    scanFields(proto, f.valueStart, f.end, (g) => {
      if (g.wire !== WIRE_LEN) return;
      if (g.field === STRING_ENTRY.key) key = readString(proto, g.valueStart, g.end);
      else if (g.field === STRING_ENTRY.value) value = readString(proto, g.valueStart, g.end);
    });
    entries.set(key, value);
  });
  const location = entries.get('location');
  const number = (key: string) => {
    const text = entries.get(key);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0) throw new AppError('onnx/malformed', `Tensor "${tensor.name}" has external_data ${key} "${text}", which is not a byte count.`);
    return value;
  };
  if (!location) throw new AppError('onnx/malformed', `Tensor "${tensor.name}" is marked EXTERNAL but names no file (no external_data "location").`);
  const length = number('length');
  return { location, offset: number('offset') ?? 0, ...(length !== undefined ? { length } : {}) };
}

const normalize = (path: string) => path.replace(/\\/g, '/').replace(/^(\.\/)+/, '');

/**
 * A tensor's data bytes (a view): its raw_data, or its range of the external file it names. Undefined
 * when the values are in typed fields (float_data, int64_data, ...). Throws when the file is missing
 * or too short, naming both.
 */
export function tensorBytes(tensor: OnnxTensor, externalData: readonly ExternalDataFile[] = []): Uint8Array | undefined {
  const header = decodeTensorHeader(tensor.proto);
  if (!header.externalData) return header.rawData;
  const ref = externalDataRef(tensor)!;
  const file = externalData.find((f) => normalize(f.path) === normalize(ref.location));
  if (!file) {
    const given = externalData.length ? `only ${externalData.map((f) => `"${f.path}"`).join(', ')} were` : 'none was';
    throw new AppError('onnx/missing-tensor', `Tensor "${header.name}" keeps its data in "${ref.location}" beside the graph, but ${given} loaded with it.`);
  }
  const length = ref.length ?? header.dims.reduce((a, b) => a * b, 1) * dataTypeBytes(header.dataType);
  if (ref.offset + length > file.data.byteLength) {
    throw new AppError('onnx/malformed', `Tensor "${header.name}" lies at bytes ${ref.offset}..${ref.offset + length} of "${ref.location}", which has only ${file.data.byteLength} bytes. Is the file complete?`);
  }
  return file.data.subarray(ref.offset, ref.offset + length);
}

/** A tensor whose data lies in `ref.location` at `ref.offset`, written as ONNX's own tools write one. */
export function makeExternalTensor(name: string, dataType: number, dims: readonly number[], ref: Required<ExternalDataRef>): OnnxTensor {
  const w = new Writer();
  for (const d of dims) w.varintField(TENSOR.dims, d);
  w.varintField(TENSOR.dataType, dataType);
  w.string(TENSOR.name, name);
  for (const [key, value] of [['location', ref.location], ['offset', String(ref.offset)], ['length', String(ref.length)]] as const) {
    const entry = new Writer();
    entry.string(STRING_ENTRY.key, key);
    entry.string(STRING_ENTRY.value, value);
    w.message(TENSOR.externalData, entry);
  }
  w.varintField(TENSOR.dataLocation, DataLocation.EXTERNAL);
  return { name, dataType, dims: [...dims], proto: concat(w.finish(), w.length) };
}
