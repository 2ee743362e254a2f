import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32, deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { errorCode } from '../../../src/lib/errors.ts';
import { crc32, crc32Blob, readZip, ZipWriter } from '../../../src/lib/formats/index.ts';
import { hasTool } from '../../support/tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'zip-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic pseudo-random bytes (xorshift32). */
function bytes(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function save(blob: Blob, name: string): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(await blob.arrayBuffer()));
  return path;
}

/** `unzip -t` (Info-ZIP) tests every entry's CRC and finds no error. */
function checkWithUnzip(path: string): void {
  const out = execFileSync('unzip', ['-t', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  expect(out).toMatch(/No errors detected/);
}

/** Python's zipfile tests every entry's CRC and lists the same names. */
function checkWithPython(path: string, names: string[]): void {
  const script = 'import json,sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nbad=z.testzip()\nprint(json.dumps({"bad":bad,"names":z.namelist()}))';
  const result = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as { bad: string | null; names: string[] };
  expect(result.bad).toBeNull();
  expect(result.names).toEqual(names);
}

const textOf = async (blob: Blob) => new Uint8Array(await blob.arrayBuffer());

/** `make`, run on the first call only: the later calls share its promise. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

describe('crc32', () => {
  test('matches zlib for every length around the 8-byte stride, and continues across chunks', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
    const data = bytes(300, 7);
    for (let n = 0; n <= 40; n++) expect(crc32(data.subarray(0, n))).toBe(zlibCrc32(data.subarray(0, n)));
    expect(crc32(data.subarray(13), crc32(data.subarray(0, 13)))).toBe(zlibCrc32(data));
  });

  test('of a Blob read in chunks equals that of its bytes', async () => {
    const data = bytes(9 * 1024 * 1024 + 5, 3); // more than one 8 MiB chunk
    expect(await crc32Blob(new Blob([data]))).toBe(zlibCrc32(data));
  });
});

describe('ZipWriter + readZip', () => {
  const date = new Date(2024, 4, 17, 13, 45, 30);
  const big = bytes(200_000, 11); // > 64 KiB
  const files: [string, Uint8Array<ArrayBuffer>][] = [
    ['layers.6/config.json', new TextEncoder().encode('{"n_splits": 5}')],
    ['layers.6/0_6552.safetensors', big],
    ['empty.txt', new Uint8Array()],
    ['données/日本語 ✓ 🙂.bin', bytes(1000, 5)],
  ];

  async function build(options: { forceZip64?: boolean } = {}): Promise<Blob> {
    const zip = new ZipWriter({ date, ...options });
    for (const [path, data] of files) {
      // One entry as a Blob, the others as bytes.
      await zip.add(path, path.endsWith('.bin') ? new Blob([data]) : data);
    }
    expect(zip.count).toBe(files.length);
    return zip.finish();
  }

  const MANY = 65_540;
  /** 65540 tiny entries: past the 16-bit count, so the end record must switch to ZIP64. */
  async function buildMany(): Promise<{ archive: Blob; names: string[] }> {
    const zip = new ZipWriter({ date });
    const names: string[] = [];
    const adds: Promise<void>[] = [];
    for (let i = 0; i < MANY; i++) {
      names.push(`f/${i}`);
      adds.push(zip.add(`f/${i}`, new Uint8Array([i & 0xff, i >> 8])));
    }
    await Promise.all(adds);
    return { archive: zip.finish(), names };
  }

  const plain = once(() => build());
  const zip64 = once(() => build({ forceZip64: true }));
  const many = once(buildMany);

  test('round trip: stored entries come back byte for byte, names in UTF-8', async () => {
    const archive = await plain();
    expect(archive.type).toBe('application/zip');
    const entries = await readZip(archive, { verifyStored: true });
    expect(entries.map((e) => e.path)).toEqual(files.map(([p]) => p));
    for (const [i, [, data]] of files.entries()) expect(await textOf(entries[i]!.blob)).toEqual(data);
  });

  test('byte-identical output for the same input and date', async () => {
    const a = await textOf(await build());
    const b = await textOf(await build());
    expect(a).toEqual(b);
    // No ZIP64 records when nothing needs them.
    const view = new DataView(a.buffer);
    expect(view.getUint32(a.byteLength - 22, true)).toBe(0x06054b50);
    expect(view.getUint32(a.byteLength - 42, true)).not.toBe(0x07064b50);
  });

  test('forced ZIP64 records are valid for readZip', async () => {
    const archive = await zip64();
    const data = await textOf(archive);
    const view = new DataView(data.buffer);
    expect(view.getUint32(data.byteLength - 22 - 20, true)).toBe(0x07064b50); // locator
    expect(view.getUint32(data.byteLength - 22, true)).toBe(0x06054b50);
    expect(view.getUint16(data.byteLength - 22 + 10, true)).toBe(0xffff);
    const entries = await readZip(archive, { verifyStored: true });
    for (const [i, [, bytesIn]] of files.entries()) expect(await textOf(entries[i]!.blob)).toEqual(bytesIn);
  });

  test('65536 entries switch to ZIP64 on their own', async () => {
    const { archive } = await many();
    const tail = await textOf(archive.slice(archive.size - 42));
    expect(new DataView(tail.buffer).getUint32(0, true)).toBe(0x07064b50);
    const entries = await readZip(archive);
    expect(entries.length).toBe(MANY);
    expect(entries[MANY - 1]!.path).toBe(`f/${MANY - 1}`);
    expect(await textOf(entries[MANY - 1]!.blob)).toEqual(new Uint8Array([(MANY - 1) & 0xff, (MANY - 1) >> 8]));
  });

  // Info-ZIP's unzip and Python's zipfile test every CRC: each check is its own test, skipped (not passed) without its tool.
  const forTools: { label: string; file: () => Promise<{ path: string; names: string[] }> }[] = [
    { label: 'plain', file: once(async () => ({ path: await save(await plain(), 'plain.zip'), names: files.map(([p]) => p) })) },
    { label: 'forced ZIP64', file: once(async () => ({ path: await save(await zip64(), 'zip64.zip'), names: files.map(([p]) => p) })) },
    {
      label: '65540-entry',
      file: once(async () => {
        const { archive, names } = await many();
        return { path: await save(archive, 'many.zip'), names };
      }),
    },
  ];
  for (const { label, file } of forTools) {
    test.skipIf(!hasTool('unzip'))(`unzip -t accepts the ${label} archive`, async () => {
      checkWithUnzip((await file()).path);
    });
    test.skipIf(!hasTool('python3'))(`Python's zipfile accepts the ${label} archive and lists its names`, async () => {
      const { path, names } = await file();
      checkWithPython(path, names);
    });
  }

  test('rejects duplicate names, empty names, adding after finish, and finishing with adds pending', async () => {
    const zip = new ZipWriter();
    await zip.add('a', new Uint8Array([1]));
    expect(() => zip.add('a', new Uint8Array([2]))).toThrow(/already has/);
    expect(() => zip.add('', new Uint8Array())).toThrow(/1 to 65535 bytes/);
    const pending = zip.add('b', new Blob([new Uint8Array(10)]));
    expect(() => zip.finish()).toThrow(/still running/);
    await pending;
    zip.finish();
    expect(() => zip.add('c', new Uint8Array())).toThrow(/already finished/);
  });
});

/** A zip written by hand, independently of ZipWriter: deflated entries (zlib), optional CP437 names. */
function handZip(entries: { name: Uint8Array; data: Uint8Array; method?: number; utf8?: boolean; flags?: number; crc?: number }[]): Uint8Array<ArrayBuffer> {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const method = entry.method ?? 8;
    const body = method === 8 ? new Uint8Array(deflateRawSync(entry.data)) : entry.data;
    const crc = entry.crc ?? zlibCrc32(entry.data);
    const flags = (entry.flags ?? 0) | (entry.utf8 === false ? 0 : 0x800);
    const local = new Uint8Array(30 + entry.name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, flags, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, entry.data.length, true);
    lv.setUint16(26, entry.name.length, true);
    local.set(entry.name, 30);
    const record = new Uint8Array(46 + entry.name.length);
    const cv = new DataView(record.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, flags, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, entry.data.length, true);
    cv.setUint16(28, entry.name.length, true);
    cv.setUint32(42, offset, true);
    record.set(entry.name, 46);
    chunks.push(local, body);
    central.push(record);
    offset += local.length + body.length;
  }
  const centralSize = central.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22 + 5);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, centralSize, true);
  ev.setUint32(16, offset, true);
  ev.setUint16(20, 5, true); // a comment, so that the end record is not the last 22 bytes
  end.set(new TextEncoder().encode('hello'), 22);
  const out = new Uint8Array(offset + centralSize + end.length);
  let at = 0;
  for (const c of [...chunks, ...central, end]) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('readZip on archives from other tools', () => {
  test('inflates deflated entries (zlib deflateRawSync) and reads CP437 names', async () => {
    const text = utf8('the quick brown fox '.repeat(10_000)); // compresses well, > 64 KiB
    const random = bytes(100_000, 9);
    const archive = handZip([
      { name: utf8('cache/layers.0/config.json'), data: utf8('{"a": 1}') },
      { name: utf8('cache/big.txt'), data: text },
      { name: utf8('cache/random.bin'), data: random },
      { name: utf8('cache/empty'), data: new Uint8Array() },
      { name: utf8('cache/stored.bin'), data: bytes(10, 2), method: 0 },
      { name: new Uint8Array([0x63, 0x61, 0x66, 0x82, 0x2e, 0x74, 0x78, 0x74]), data: utf8('x'), utf8: false }, // "café.txt" in CP437
      { name: utf8('cache/folder/'), data: new Uint8Array(), method: 0 },
    ]);
    const entries = await readZip(new Blob([archive]), { verifyStored: true });
    expect(entries.map((e) => e.path)).toEqual(['cache/layers.0/config.json', 'cache/big.txt', 'cache/random.bin', 'cache/empty', 'cache/stored.bin', 'café.txt']);
    expect(await textOf(entries[1]!.blob)).toEqual(text);
    expect(await textOf(entries[2]!.blob)).toEqual(random);
    expect(entries[3]!.blob.size).toBe(0);
    expect(await entries[0]!.blob.text()).toBe('{"a": 1}');
  });

  test.skipIf(!hasTool('zip'))('reads an archive made by Info-ZIP zip (deflated, with its extra fields)', async () => {
    const work = mkdtempSync(join(dir, 'infozip-'));
    writeFileSync(join(work, 'a.txt'), 'hello hello hello hello hello\n'.repeat(1000));
    writeFileSync(join(work, 'b.bin'), bytes(70_000, 4));
    execFileSync('zip', ['-q', '-r', 'out.zip', 'a.txt', 'b.bin'], { cwd: work });
    const entries = await readZip(new Blob([readFileSync(join(work, 'out.zip'))]), { verifyStored: true });
    expect(entries.map((e) => e.path)).toEqual(['a.txt', 'b.bin']);
    expect(await entries[0]!.blob.text()).toBe('hello hello hello hello hello\n'.repeat(1000));
    expect(await textOf(entries[1]!.blob)).toEqual(bytes(70_000, 4));
  });

  test('clear errors: not a zip, truncated, bad CRC, encrypted, unknown method', async () => {
    const code = async (blob: Blob, options = {}) => {
      try {
        await readZip(blob, options);
        return 'ok';
      } catch (error) {
        return errorCode(error);
      }
    };
    expect(await code(new Blob([bytes(1000)]))).toBe('zip/bad-archive');
    expect(await code(new Blob([]))).toBe('zip/bad-archive');
    const good = handZip([{ name: utf8('a'), data: bytes(5000) }]);
    expect(await code(new Blob([good.subarray(100)]))).toBe('zip/bad-archive');
    expect(await code(new Blob([handZip([{ name: utf8('a'), data: bytes(5000), crc: 1234 }])]))).toBe('zip/bad-archive');
    expect(await code(new Blob([handZip([{ name: utf8('a'), data: bytes(50), method: 0, crc: 1234 }])]), { verifyStored: true })).toBe('zip/bad-archive');
    expect(await code(new Blob([handZip([{ name: utf8('a'), data: bytes(50), method: 0, crc: 1234 }])]))).toBe('ok');
    expect(await code(new Blob([handZip([{ name: utf8('a'), data: bytes(50), flags: 1 }])]))).toBe('zip/unsupported');
    expect(await code(new Blob([handZip([{ name: utf8('a'), data: bytes(50), method: 12 }])]))).toBe('zip/unsupported');
  });
});
