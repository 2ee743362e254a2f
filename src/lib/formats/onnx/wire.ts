/**
 * The protobuf wire format, apart from ONNX's messages: reading varints and fields out of a byte
 * range, and a Writer that collects encoded parts without copying large byte ranges.
 */
import { AppError } from '../../errors.ts';
import type { Int64, RawField } from './types.ts';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

// ---------------------------------------------------------------------------------------------
// Wire reading

export function malformed(message: string): never {
  throw new AppError('onnx/malformed', `The ONNX file is malformed: ${message}. Is it a complete .onnx file?`);
}

export const utf8 = new TextDecoder('utf-8');
export const utf8Encoder = new TextEncoder();

/** Reads an unsigned varint that fits in 2^53 (tags, lengths, enums, dims). Returns [value, next]. */
export function readVarint(buf: Uint8Array, pos: number, end: number): [number, number] {
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
export function readVarint64(buf: Uint8Array, pos: number, end: number): [Int64, number] {
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
export function readString(buf: Uint8Array, start: number, end: number): string {
  return utf8.decode(buf.subarray(start, end));
}

export interface Field {
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
export function scanFields(buf: Uint8Array, start: number, end: number, visit: (f: Field) => void): void {
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

export function expectWire(f: Field, wire: number, what: string): void {
  if (f.wire !== wire) malformed(`${what} (field ${f.field}) has wire type ${f.wire}, expected ${wire}`);
}

export function raw(buf: Uint8Array, f: Field): RawField {
  return { field: f.field, bytes: buf.subarray(f.start, f.end) };
}

/** Reads repeated varints (packed or not) into `out`. */
export function readRepeatedInt64(buf: Uint8Array, f: Field, out: Int64[]): void {
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
export function readRepeatedFloat(buf: Uint8Array, f: Field, out: number[]): void {
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

export function toSafeNumber(value: Int64, what: string): number {
  if (typeof value === 'bigint') malformed(`${what} ${value} is too large`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Wire writing

const SMALL_COPY = 1024;

/** Collects encoded bytes as a list of parts; large byte ranges are referenced, not copied. */
export class Writer {
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

export function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
