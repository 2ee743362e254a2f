/**
 * safetensors: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
 * Headers come from users' files and can lie, so every length, offset and size is checked before
 * any tensor is read. Large files are read through `Blob.slice`, so a 400 MB SAE is never copied
 * whole just to look at its header.
 */
import { AppError } from '../errors.ts';
import { float16Table } from './float16.ts';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<Dtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** The dtypes we can turn into float32 weights. */
export const FLOAT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  /** Bytes before the first tensor byte (8 + header length). */
  dataStart: number;
  fileSize: number;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Reads the header length from the first 8 bytes and checks it against the file size. */
export function readHeaderLength(first8: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || first8.byteLength < 8) {
    throw new AppError('safetensors/too-small', `The file has ${fileSize} bytes; a safetensors file starts with an 8-byte header length. Is this really a .safetensors file?`);
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES) || length === 0n) {
    throw new AppError('safetensors/header-length', `The header claims ${length} bytes, which no safetensors file has (limit ${MAX_HEADER_BYTES}). The file is corrupt or not safetensors.`);
  }
  if (length > BigInt(fileSize - 8)) {
    throw new AppError('safetensors/header-length', `The header claims ${length} bytes but the file has only ${fileSize - 8} after the length field: the file is truncated.`);
  }
  return Number(length);
}

/** Parses and validates the JSON header. `headerBytes` is exactly the header (after the 8-byte length). */
export function parseHeader(headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new AppError('safetensors/header-json', `The header is not valid JSON (${(error as Error).message}). The file is corrupt or not safetensors.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new AppError('safetensors/header-json', 'The header is not a JSON object. The file is corrupt or not safetensors.');
  }
  const dataStart = 8 + headerBytes.byteLength;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = Object.fromEntries(Object.entries((value ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== 'object' || entry === null) {
      throw new AppError('safetensors/bad-entry', `Tensor "${name}" has no description in the header.`);
    }
    const dtype = entry.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new AppError('safetensors/unsupported-dtype', `Tensor "${name}" has dtype ${JSON.stringify(dtype)}, which is not supported (supported: ${Object.keys(DTYPE_BYTES).join(', ')}).`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new AppError('safetensors/bad-entry', `Tensor "${name}" has an invalid shape ${JSON.stringify(shape)}.`);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new AppError('safetensors/bad-offsets', `Tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}.`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = numel(shape) * DTYPE_BYTES[dtype as Dtype];
    if (end - begin !== expected) {
      throw new AppError('safetensors/bad-offsets', `Tensor "${name}" (${dtype} ${JSON.stringify(shape)}) needs ${expected} bytes but its offsets span ${end - begin}.`);
    }
    if (end > dataSize) {
      throw new AppError('safetensors/bad-offsets', `Tensor "${name}" ends at byte ${end} of the data section, which has only ${dataSize} bytes: the file is truncated.`);
    }
    tensors.set(name, { name, dtype: dtype as Dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end });
  }
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.begin < previous.end) {
      throw new AppError('safetensors/bad-offsets', `Tensors "${previous.name}" and "${current.name}" overlap in the file.`);
    }
  }
  return { tensors, metadata, dataStart, fileSize };
}

/** Parses the header of a file held whole in memory. */
export function parseSafetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
  const length = readHeaderLength(bytes.subarray(0, 8), bytes.byteLength);
  return parseHeader(bytes.subarray(8, 8 + length), bytes.byteLength);
}

/** Reads only the header of a Blob or File (two small slices). */
export async function readSafetensorsHeader(blob: Blob): Promise<SafetensorsHeader> {
  const first8 = new Uint8Array(await blob.slice(0, 8).arrayBuffer());
  const length = readHeaderLength(first8, blob.size);
  const headerBytes = new Uint8Array(await blob.slice(8, 8 + length).arrayBuffer());
  return parseHeader(headerBytes, blob.size);
}

/** Converts a tensor's raw little-endian bytes to float32. `bytes` holds exactly the tensor. */
export function decodeFloatTensor(entry: TensorEntry, bytes: Uint8Array): Float32Array {
  const n = numel(entry.shape);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (entry.dtype) {
    case 'F32':
      if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n).slice();
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'F16': {
      // A table of all 65536 half values is cheaper than bit twiddling per element for big SAEs.
      const table = float16Table();
      for (let i = 0; i < n; i++) out[i] = table[view.getUint16(i * 2, true)]!;
      return out;
    }
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    default:
      throw new AppError('safetensors/unsupported-dtype', `Tensor "${entry.name}" is ${entry.dtype}; a float tensor (${FLOAT_DTYPES.join(', ')}) was expected.`);
  }
}

/** A safetensors file whose tensors are read on demand from a Blob (or from bytes in memory). */
export class SafetensorsReader {
  private constructor(
    readonly header: SafetensorsHeader,
    private readonly source: Blob | Uint8Array,
  ) {}

  static async fromBlob(blob: Blob): Promise<SafetensorsReader> {
    return new SafetensorsReader(await readSafetensorsHeader(blob), blob);
  }

  static fromBytes(bytes: Uint8Array): SafetensorsReader {
    return new SafetensorsReader(parseSafetensorsHeader(bytes), bytes);
  }

  entry(name: string): TensorEntry {
    const entry = this.header.tensors.get(name);
    if (!entry) {
      throw new AppError('safetensors/missing-tensor', `The file has no tensor "${name}" (it has: ${[...this.header.tensors.keys()].join(', ')}).`);
    }
    return entry;
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  async raw(name: string): Promise<Uint8Array> {
    const { begin, end } = this.entry(name);
    if (this.source instanceof Uint8Array) return this.source.subarray(begin, end);
    return new Uint8Array(await this.source.slice(begin, end).arrayBuffer());
  }

  async float32(name: string): Promise<Float32Array> {
    const entry = this.entry(name);
    return decodeFloatTensor(entry, await this.raw(name));
  }
}

export interface TensorToWrite {
  dtype: Dtype;
  shape: number[];
  /** Raw values; the typed array's element size must match the dtype (Uint16Array for F16/BF16 bits). */
  data: ArrayBufferView;
}

/** Writes a safetensors file. Tensors are laid out in the given order, 8-byte aligned header. */
export function encodeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    const bytes = numel(tensor.shape) * DTYPE_BYTES[tensor.dtype];
    if (tensor.data.byteLength !== bytes) {
      throw new Error(`encodeSafetensors: "${name}" has ${tensor.data.byteLength} bytes, expected ${bytes}`);
    }
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.byteLength;
  for (const tensor of Object.values(tensors)) {
    out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), position);
    position += tensor.data.byteLength;
  }
  return out;
}
