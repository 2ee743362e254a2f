/**
 * safetensors headers come from users' files and can lie: every check has its own error code, and a
 * file written by encodeSafetensors reads back bit for bit.
 */
import { describe, expect, test } from 'vitest';
import {
  decodeFloatTensor, encodeSafetensors, float16ToFloat32, float32ArrayToFloat16Bits, float32ToBfloat16Bits, MAX_HEADER_BYTES,
  parseSafetensorsHeader, readSafetensorsHeader, SafetensorsReader,
} from '../../../src/lib/formats/index.ts';
import { openSafetensors } from '../../../src/lib/sae/index.ts';
import { Prng } from '../../../src/lib/util/index.ts';

/** A file with a header of our choosing: the 8-byte length, the header bytes, then `dataBytes` zero bytes. */
function fileWith(header: unknown, dataBytes = 0, headerLength?: bigint): Uint8Array<ArrayBuffer> {
  const json = typeof header === 'string' ? new TextEncoder().encode(header) : header instanceof Uint8Array ? header : new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

const f32 = (name: string, shape: number[], begin: number) => ({ [name]: { dtype: 'F32', shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] } });
const code = (expected: string) => expect.objectContaining({ code: expected });

describe('safetensors header checks', () => {
  test('a file shorter than the length field is safetensors/too-small', async () => {
    expect(() => parseSafetensorsHeader(new Uint8Array(7))).toThrow(code('safetensors/too-small'));
    await expect(readSafetensorsHeader(new Blob([new Uint8Array(3)]))).rejects.toMatchObject({ code: 'safetensors/too-small' });
  });

  test.each([
    ['zero', 0n],
    ['above the 100 MB limit', BigInt(MAX_HEADER_BYTES + 1)],
    ['far beyond the end of the file', 1000n],
    ['one byte beyond the end of the file', 2n + 16n + 1n],
  ])('a header length of %s is safetensors/header-length', (_, length) => {
    expect(() => parseSafetensorsHeader(fileWith({}, 16, length))).toThrow(code('safetensors/header-length'));
  });

  test.each([
    ['not JSON', '{"a": '],
    ['a JSON array', '[1, 2]'],
    ['JSON null', 'null'],
    ['not UTF-8 (inside a JSON string)', new Uint8Array([...new TextEncoder().encode('{"__metadata__": {"a": "'), 0xff, ...new TextEncoder().encode('"}}')])],
  ])('a header that is %s is safetensors/header-json', (_, header) => {
    expect(() => parseSafetensorsHeader(fileWith(header))).toThrow(code('safetensors/header-json'));
  });

  test.each([
    ['no description', { w: 5 }],
    ['a negative dimension', { w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 0] } }],
    ['a fractional dimension', { w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }],
    ['no shape', { w: { dtype: 'F32', data_offsets: [0, 4] } }],
  ])('a tensor with %s is safetensors/bad-entry', (_, header) => {
    expect(() => parseSafetensorsHeader(fileWith(header, 16))).toThrow(code('safetensors/bad-entry'));
  });

  test('a dtype the format does not have is safetensors/unsupported-dtype, and so is reading an integer tensor as floats', async () => {
    expect(() => parseSafetensorsHeader(fileWith({ w: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, 4))).toThrow(code('safetensors/unsupported-dtype'));
    expect(() => parseSafetensorsHeader(fileWith({ w: { shape: [4], data_offsets: [0, 16] } }, 16))).toThrow(code('safetensors/unsupported-dtype'));
    const reader = SafetensorsReader.fromBytes(encodeSafetensors({ ids: { dtype: 'I32', shape: [2], data: new Int32Array([1, 2]) } }));
    await expect(reader.float32('ids')).rejects.toMatchObject({ code: 'safetensors/unsupported-dtype' });
  });

  test.each([
    ['missing offsets', { w: { dtype: 'F32', shape: [2] } }],
    ['one offset', { w: { dtype: 'F32', shape: [2], data_offsets: [0] } }],
    ['reversed offsets', { w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }],
    ['a negative offset', { w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }],
    ['a span that does not fit the shape', { w: { dtype: 'F32', shape: [2], data_offsets: [0, 12] } }],
    ['data past the end of the file', f32('w', [8], 0)],
    ['overlapping tensors', { ...f32('a', [2], 0), ...f32('b', [2], 4) }],
  ])('%s is safetensors/bad-offsets', (_, header) => {
    expect(() => parseSafetensorsHeader(fileWith(header, 16))).toThrow(code('safetensors/bad-offsets'));
  });

  test('asking for a tensor the file lacks is safetensors/missing-tensor, naming the ones it has', async () => {
    const reader = SafetensorsReader.fromBytes(fileWith({ ...f32('W_enc', [2], 0), ...f32('b_enc', [2], 8) }, 16));
    expect(reader.has('W_dec')).toBe(false);
    expect(() => reader.entry('W_dec')).toThrow(code('safetensors/missing-tensor'));
    await expect(reader.float32('W_dec')).rejects.toMatchObject({ code: 'safetensors/missing-tensor', message: expect.stringMatching(/W_enc, b_enc/) });
  });

  test('a file cut short after an intact header is safetensors/truncated when opened as an SAE file, with its path', async () => {
    const whole = new Uint8Array(encodeSafetensors({ W_enc: { dtype: 'F32', shape: [4, 8], data: new Float32Array(32) } }));
    const cut = whole.slice(0, whole.byteLength - 50);
    expect(() => parseSafetensorsHeader(cut)).toThrow(code('safetensors/bad-offsets'));
    await expect(openSafetensors({ path: 'sae/ae.safetensors', blob: new Blob([cut]) }))
      .rejects.toMatchObject({ code: 'safetensors/truncated', message: expect.stringMatching(/^sae\/ae\.safetensors is truncated/) });
    // Other header errors keep their code and gain the path.
    await expect(openSafetensors({ path: 'x.safetensors', blob: new Blob([fileWith('[]')]) }))
      .rejects.toMatchObject({ code: 'safetensors/header-json', message: expect.stringMatching(/^x\.safetensors: /) });
    await expect(openSafetensors({ path: 'whole.safetensors', blob: new Blob([whole]) })).resolves.toBeInstanceOf(SafetensorsReader);
  });

  test('__metadata__ is read as strings and is not a tensor', () => {
    const header = parseSafetensorsHeader(fileWith({ __metadata__: { format: 'pt', step: 3 }, ...f32('w', [1], 0) }, 4));
    expect(header.metadata).toEqual({ format: 'pt', step: '3' });
    expect([...header.tensors.keys()]).toEqual(['w']);
  });
});

describe('encodeSafetensors and SafetensorsReader', () => {
  const rng = new Prng(5);
  const values = rng.normals(24, 3);
  const halves = float32ArrayToFloat16Bits(values.slice(0, 3)); // 6 bytes: the next tensor starts unaligned
  const brains = Uint16Array.from(values.slice(0, 10), float32ToBfloat16Bits);
  const bytes = new Uint8Array(encodeSafetensors(
    {
      half: { dtype: 'F16', shape: [3], data: halves },
      single: { dtype: 'F32', shape: [4, 6], data: values },
      brain: { dtype: 'BF16', shape: [2, 5], data: brains },
      double: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e-300]) },
    },
    { format: 'pt' },
  ));
  const expected = {
    half: Array.from(halves, float16ToFloat32),
    single: Array.from(values),
    brain: Array.from(brains, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]!),
    double: [Math.fround(Math.PI), Math.fround(-1e-300)],
  };

  test.each([
    ['bytes in memory', async () => SafetensorsReader.fromBytes(bytes)],
    ['a Blob', async () => SafetensorsReader.fromBlob(new Blob([bytes]))],
  ])('F16, F32, BF16 and F64 tensors read back from %s exactly, with shapes and metadata', async (_, open) => {
    const reader = await open();
    expect(reader.header.dataStart % 8).toBe(0);
    expect(reader.header.metadata).toEqual({ format: 'pt' });
    expect(reader.entry('single')).toMatchObject({ dtype: 'F32', shape: [4, 6] });
    expect(reader.entry('brain')).toMatchObject({ dtype: 'BF16', shape: [2, 5] });
    for (const [name, want] of Object.entries(expected)) expect(Array.from(await reader.float32(name)), name).toEqual(want);
    // The raw bytes are the ones written.
    expect(Array.from(new Uint16Array((await reader.raw('half')).slice().buffer))).toEqual(Array.from(halves));
  });

  test('F16 and BF16 keep their values to within their precision', () => {
    const reader = SafetensorsReader.fromBytes(bytes);
    const entry = reader.entry('brain');
    const decoded = decodeFloatTensor(entry, bytes.subarray(entry.begin, entry.end));
    decoded.forEach((v, i) => expect(Math.abs(v - values[i]!)).toBeLessThanOrEqual(Math.abs(values[i]!) * 2 ** -8));
    expected.half.forEach((v, i) => expect(Math.abs(v - values[i]!)).toBeLessThanOrEqual(Math.abs(values[i]!) * 2 ** -11));
  });

  test('data of the wrong size for its shape is refused', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/"w" has 8 bytes, expected 12/);
  });
});
