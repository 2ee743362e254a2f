/**
 * Zip archives: a writer that stores files uncompressed (the caches we export are float16 and token ids,
 * which deflate barely shrinks) and a reader for stored and deflated entries, so that a zip made by
 * another tool (Finder, Windows, `zip`, Python's zipfile) can be imported too.
 *
 * The writer never holds the archive in one buffer: each file becomes its own Blob part (a browser may
 * keep big Blobs on disk), and `finish()` returns a Blob made of those parts. ZIP64 records are written
 * exactly when needed: a file or an offset at or past 4 GiB, or 65535 entries or more.
 *
 * The reader slices entries out of the archive Blob without copying stored ones; deflated entries are
 * inflated with the platform's `DecompressionStream('deflate-raw')` (Chromium, Firefox, Safari, Node 20).
 * Plain TypeScript, no DOM: runs in workers and in Node.
 */
import { AppError } from '../../errors.ts';
import { throwIfAborted } from '../../util/index.ts';

// ---------------------------------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, as zip and gzip use), slicing by 8: about 1 GB/s in V8, so hashing a large cache
// costs far less than writing it.

const CRC_TABLES = (() => {
  const tables = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const previous = tables[(k - 1) * 256 + n]!;
      tables[k * 256 + n] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  }
  return tables;
})();

/** CRC-32 of `data`, continuing from `crc` (the CRC of everything before it; 0 to start). */
export function crc32(data: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = 0;
  const n = data.length;
  for (; i + 8 <= n; i += 8) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    c =
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Bytes read from a Blob at a time when hashing or copying it. */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** CRC-32 of a Blob, read in chunks so that a multi-gigabyte file is never in memory at once. */
export async function crc32Blob(blob: Blob, signal?: AbortSignal): Promise<number> {
  let crc = 0;
  for (let at = 0; at < blob.size; at += CHUNK_BYTES) {
    throwIfAborted(signal, 'The zip operation');
    crc = crc32(new Uint8Array(await blob.slice(at, Math.min(blob.size, at + CHUNK_BYTES)).arrayBuffer()), crc);
  }
  return crc;
}


// ---------------------------------------------------------------------------------------------------
// Record layouts (APPNOTE.TXT 6.3.10).

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const EXTRA_ZIP64 = 0x0001;
const EXTRA_UNICODE_PATH = 0x7075;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** "Made by" Unix, spec 4.5; "needed" 2.0 plain, 4.5 with ZIP64. */
const VERSION_MADE_BY = (3 << 8) | 45;
const VERSION_PLAIN = 20;
const VERSION_ZIP64 = 45;
/** Regular file, rw-r--r--, so that `unzip` on Unix extracts files with ordinary permissions. */
const EXTERNAL_ATTRS = (0o100644 << 16) >>> 0;

/** Writes a number below 2^53 as a little-endian uint64. */
function setUint64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % 0x1_0000_0000, true);
  view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}

function getUint64(view: DataView, at: number): number {
  const value = view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x1_0000_0000;
  if (!Number.isSafeInteger(value)) throw new AppError('zip/unsupported', 'The archive records a size or offset beyond 2^53 bytes.');
  return value;
}

/** MS-DOS time and date, in local time as zip tools expect; dates before 1980 clamp to 1980-01-01. */
function dosDateTime(date: Date): { time: number; date: number } {
  if (date.getFullYear() < 1980) return { time: 0, date: (1 << 5) | 1 };
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((Math.min(date.getFullYear(), 2107) - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

// ---------------------------------------------------------------------------------------------------
// Writer

export interface ZipWriterOptions {
  /** Modification time stored for every entry (default: now). Fix it for byte-identical archives. */
  date?: Date;
  /** Write ZIP64 records for every entry and the end record even when not needed (for tests). */
  forceZip64?: boolean;
}

interface CentralEntry {
  name: Uint8Array;
  crc: number;
  size: number;
  offset: number;
}

/**
 * Builds a stored (uncompressed) zip as a list of Blob parts.
 *
 *   const zip = new ZipWriter();
 *   await zip.add('layers.6/config.json', bytes);
 *   await zip.add('layers.6/0_6552.safetensors', blob);
 *   const archive = zip.finish();
 *
 * `add` is async because a Blob must be read once to compute its CRC; calls are queued, so they may
 * be issued without awaiting each one, but `finish` must come after the last has settled.
 */
export class ZipWriter {
  private readonly parts: Blob[] = [];
  /** Headers and small files not yet turned into a Blob part: thousands of tiny parts make slow Blobs. */
  private small: Uint8Array<ArrayBuffer>[] = [];
  private smallBytes = 0;
  private readonly entries: CentralEntry[] = [];
  private readonly names = new Set<string>();
  private readonly time: { time: number; date: number };
  private readonly forceZip64: boolean;
  private offset = 0;
  private pending = 0;
  private queue: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(options: ZipWriterOptions = {}) {
    this.time = dosDateTime(options.date ?? new Date());
    this.forceZip64 = options.forceZip64 ?? false;
  }

  /** Entries added so far. */
  get count(): number {
    return this.entries.length;
  }

  /** Bytes written so far (local headers and file data). */
  get bytes(): number {
    return this.offset;
  }

  /** Adds a file. `path` uses '/' between folders; it is stored as UTF-8. */
  add(path: string, data: Uint8Array | Blob, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.finished) throw new AppError('zip/bad-input', `Cannot add "${path}": the archive is already finished.`);
    const name = new TextEncoder().encode(path);
    if (name.byteLength === 0 || name.byteLength > U16_MAX) {
      throw new AppError('zip/bad-input', `A zip entry name must have 1 to ${U16_MAX} bytes; "${path.slice(0, 80)}" has ${name.byteLength}.`);
    }
    if (this.names.has(path)) throw new AppError('zip/bad-input', `The archive already has an entry "${path}".`);
    this.names.add(path);
    this.pending++;
    const run = this.queue.then(async () => {
      try {
        const crc = data instanceof Blob ? await crc32Blob(data, options.signal) : crc32(data);
        this.append(name, data, crc);
      } finally {
        this.pending--;
      }
    });
    // A failed entry must not block the ones queued after it; the caller sees the error through `run`.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private append(name: Uint8Array, data: Uint8Array | Blob, crc: number): void {
    const size = data instanceof Blob ? data.size : data.byteLength;
    const offset = this.offset;
    const zip64 = this.forceZip64 || size >= U32_MAX;
    const extraLength = zip64 ? 20 : 0;
    const header = new Uint8Array(30 + name.byteLength + extraLength);
    const view = new DataView(header.buffer);
    view.setUint32(0, SIG_LOCAL, true);
    view.setUint16(4, zip64 ? VERSION_ZIP64 : VERSION_PLAIN, true);
    view.setUint16(6, FLAG_UTF8, true);
    view.setUint16(8, METHOD_STORE, true);
    view.setUint16(10, this.time.time, true);
    view.setUint16(12, this.time.date, true);
    view.setUint32(14, crc, true);
    view.setUint32(18, zip64 ? U32_MAX : size, true);
    view.setUint32(22, zip64 ? U32_MAX : size, true);
    view.setUint16(26, name.byteLength, true);
    view.setUint16(28, extraLength, true);
    header.set(name, 30);
    if (zip64) {
      // In a local header the ZIP64 extra holds both sizes, uncompressed first.
      const at = 30 + name.byteLength;
      view.setUint16(at, EXTRA_ZIP64, true);
      view.setUint16(at + 2, 16, true);
      setUint64(view, at + 4, size);
      setUint64(view, at + 12, size);
    }
    this.pushSmall(header);
    if (data instanceof Blob || size > SMALL_FILE_BYTES) {
      this.flushSmall();
      this.parts.push(data instanceof Blob ? data : new Blob([ownedBytes(data)]));
    } else {
      this.pushSmall(data.slice());
    }
    this.offset += header.byteLength + size;
    this.entries.push({ name, crc, size, offset });
  }

  private pushSmall(bytes: Uint8Array<ArrayBuffer>): void {
    this.small.push(bytes);
    this.smallBytes += bytes.byteLength;
    if (this.smallBytes >= SMALL_PART_BYTES) this.flushSmall();
  }

  private flushSmall(): void {
    if (this.small.length === 0) return;
    // One buffer per part: some Blob implementations (Node's) keep every array as its own piece.
    const joined = new Uint8Array(this.smallBytes);
    let at = 0;
    for (const bytes of this.small) {
      joined.set(bytes, at);
      at += bytes.byteLength;
    }
    this.parts.push(new Blob([joined]));
    this.small = [];
    this.smallBytes = 0;
  }

  /** Writes the central directory and returns the whole archive. No entry may be pending. */
  finish(): Blob {
    if (this.pending > 0) throw new AppError('zip/bad-input', `finish() was called while ${this.pending} add() call(s) were still running: await them first.`);
    if (this.finished) throw new AppError('zip/bad-input', 'finish() was already called on this archive.');
    this.finished = true;
    this.flushSmall();
    const central: Uint8Array<ArrayBuffer>[] = [];
    let centralSize = 0;
    for (const entry of this.entries) {
      const record = this.centralRecord(entry);
      central.push(record);
      centralSize += record.byteLength;
    }
    const centralOffset = this.offset;
    const count = this.entries.length;
    const zip64 = this.forceZip64 || count >= U16_MAX || centralOffset >= U32_MAX || centralSize >= U32_MAX;
    const end = new Uint8Array((zip64 ? 56 + 20 : 0) + 22);
    const view = new DataView(end.buffer);
    let at = 0;
    if (zip64) {
      view.setUint32(0, SIG_END64, true);
      setUint64(view, 4, 44); // size of the rest of this record
      view.setUint16(12, VERSION_MADE_BY, true);
      view.setUint16(14, VERSION_ZIP64, true);
      view.setUint32(16, 0, true); // this disk
      view.setUint32(20, 0, true); // disk with the central directory
      setUint64(view, 24, count);
      setUint64(view, 32, count);
      setUint64(view, 40, centralSize);
      setUint64(view, 48, centralOffset);
      view.setUint32(56, SIG_LOCATOR64, true);
      view.setUint32(60, 0, true);
      setUint64(view, 64, centralOffset + centralSize); // where the ZIP64 end record starts
      view.setUint32(72, 1, true); // total disks
      at = 76;
    }
    view.setUint32(at, SIG_END, true);
    view.setUint16(at + 4, 0, true);
    view.setUint16(at + 6, 0, true);
    view.setUint16(at + 8, zip64 ? U16_MAX : count, true);
    view.setUint16(at + 10, zip64 ? U16_MAX : count, true);
    view.setUint32(at + 12, zip64 ? U32_MAX : centralSize, true);
    view.setUint32(at + 16, zip64 ? U32_MAX : centralOffset, true);
    view.setUint16(at + 20, 0, true); // comment length
    this.small = central;
    this.smallBytes = centralSize;
    this.pushSmall(end);
    this.flushSmall();
    return new Blob(this.parts, { type: 'application/zip' });
  }

  private centralRecord(entry: CentralEntry): Uint8Array<ArrayBuffer> {
    const bigSize = this.forceZip64 || entry.size >= U32_MAX;
    const bigOffset = this.forceZip64 || entry.offset >= U32_MAX;
    const extraLength = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
    const record = new Uint8Array(46 + entry.name.byteLength + extraLength);
    const view = new DataView(record.buffer);
    view.setUint32(0, SIG_CENTRAL, true);
    view.setUint16(4, VERSION_MADE_BY, true);
    view.setUint16(6, extraLength ? VERSION_ZIP64 : VERSION_PLAIN, true);
    view.setUint16(8, FLAG_UTF8, true);
    view.setUint16(10, METHOD_STORE, true);
    view.setUint16(12, this.time.time, true);
    view.setUint16(14, this.time.date, true);
    view.setUint32(16, entry.crc, true);
    view.setUint32(20, bigSize ? U32_MAX : entry.size, true);
    view.setUint32(24, bigSize ? U32_MAX : entry.size, true);
    view.setUint16(28, entry.name.byteLength, true);
    view.setUint16(30, extraLength, true);
    view.setUint16(32, 0, true); // comment length
    view.setUint16(34, 0, true); // disk
    view.setUint16(36, 0, true); // internal attributes
    view.setUint32(38, EXTERNAL_ATTRS, true);
    view.setUint32(42, bigOffset ? U32_MAX : entry.offset, true);
    record.set(entry.name, 46);
    if (extraLength) {
      // Only the fields whose 32-bit slot holds 0xFFFFFFFF, in this order.
      let at = 46 + entry.name.byteLength;
      view.setUint16(at, EXTRA_ZIP64, true);
      view.setUint16(at + 2, extraLength - 4, true);
      at += 4;
      if (bigSize) {
        setUint64(view, at, entry.size);
        setUint64(view, at + 8, entry.size);
        at += 16;
      }
      if (bigOffset) setUint64(view, at, entry.offset);
    }
    return record;
  }
}

/** Files up to this size are gathered with headers into shared parts of about SMALL_PART_BYTES. */
const SMALL_FILE_BYTES = 64 * 1024;
const SMALL_PART_BYTES = 4 * 1024 * 1024;

/** Blob parts must be backed by a plain ArrayBuffer (not a SharedArrayBuffer). */
function ownedBytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer ? (data as Uint8Array<ArrayBuffer>) : data.slice();
}

// ---------------------------------------------------------------------------------------------------
// Reader

export interface ZipEntry {
  /** Path inside the archive, '/' between folders. */
  path: string;
  /** The file's bytes: a slice of the archive for stored entries, the inflated bytes for deflated ones. */
  blob: Blob;
}

export interface ReadZipOptions {
  /** Also check the CRC of stored entries, which reads the whole archive once (deflated ones are always checked). */
  verifyStored?: boolean;
  signal?: AbortSignal;
}

interface CentralInfo {
  path: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
}

/** Lists and opens the files of a zip archive (folders are skipped). */
export async function readZip(archive: Blob, options: ReadZipOptions = {}): Promise<ZipEntry[]> {
  const { signal } = options;
  const infos = await readCentralDirectory(archive);
  const entries: ZipEntry[] = [];
  const headers = new LocalHeaderReader(archive);
  for (const info of infos) {
    throwIfAborted(signal, 'The zip operation');
    if (info.path.endsWith('/')) continue;
    if (info.flags & FLAG_ENCRYPTED) throw new AppError('zip/unsupported', `"${info.path}" is encrypted; extract the archive with its password and drop the folder instead.`);
    if (info.method !== METHOD_STORE && info.method !== METHOD_DEFLATE) {
      throw new AppError('zip/unsupported', `"${info.path}" uses compression method ${info.method}; only stored (0) and deflated (8) entries can be read. Extract the archive and drop the folder instead.`);
    }
    const local = await headers.at(info.offset);
    if (!local || local.view.getUint32(local.at, true) !== SIG_LOCAL) {
      throw new AppError('zip/bad-archive', `The local header of "${info.path}" is missing at byte ${info.offset}: the archive is corrupt or truncated.`);
    }
    const dataStart = info.offset + 30 + local.view.getUint16(local.at + 26, true) + local.view.getUint16(local.at + 28, true);
    const dataEnd = dataStart + info.compressedSize;
    if (dataEnd > archive.size) throw new AppError('zip/bad-archive', `"${info.path}" ends at byte ${dataEnd} but the archive has ${archive.size} bytes: it is truncated.`);
    const raw = archive.slice(dataStart, dataEnd);
    let blob: Blob;
    if (info.method === METHOD_STORE) {
      if (info.compressedSize !== info.size) throw new AppError('zip/bad-archive', `"${info.path}" is stored but its sizes differ (${info.compressedSize} vs ${info.size}).`);
      blob = raw;
      if (options.verifyStored) checkCrc(info, await crc32Blob(blob, signal));
    } else {
      blob = await inflate(raw, info, signal);
    }
    entries.push({ path: info.path, blob });
  }
  return entries;
}

/**
 * Reads 30-byte local headers through a window of the archive, so that an archive of many small
 * files costs a few reads rather than one per file.
 */
class LocalHeaderReader {
  private start = 0;
  private view = new DataView(new ArrayBuffer(0));

  constructor(private readonly archive: Blob) {}

  async at(offset: number): Promise<{ view: DataView; at: number } | null> {
    if (offset < this.start || offset + 30 > this.start + this.view.byteLength) {
      this.start = offset;
      this.view = new DataView(await this.archive.slice(offset, Math.min(this.archive.size, offset + HEADER_WINDOW_BYTES)).arrayBuffer());
      if (this.view.byteLength < 30) return null;
    }
    return { view: this.view, at: offset - this.start };
  }
}

const HEADER_WINDOW_BYTES = 1024 * 1024;

function checkCrc(info: CentralInfo, crc: number): void {
  if (crc !== info.crc) {
    throw new AppError('zip/bad-archive', `"${info.path}" is corrupt: its CRC-32 is ${hex(crc)} but the archive records ${hex(info.crc)}.`);
  }
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

async function inflate(raw: Blob, info: CentralInfo, signal: AbortSignal | undefined): Promise<Blob> {
  if (typeof DecompressionStream === 'undefined') {
    throw new AppError('zip/unsupported', `"${info.path}" is deflated and this browser has no DecompressionStream; extract the archive and drop the folder instead.`);
  }
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let crc = 0;
  let size = 0;
  const reader = raw.stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  try {
    for (;;) {
      throwIfAborted(signal, 'The zip operation');
      const { done, value } = await reader.read();
      if (done) break;
      crc = crc32(value, crc);
      size += value.byteLength;
      if (size > info.size) throw new AppError('zip/bad-archive', `"${info.path}" inflates to more than the ${info.size} bytes the archive records.`);
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('zip/bad-archive', `"${info.path}" could not be inflated (${(error as Error).message}): the archive is corrupt.`);
  } finally {
    reader.releaseLock();
  }
  if (size !== info.size) throw new AppError('zip/bad-archive', `"${info.path}" inflates to ${size} bytes but the archive records ${info.size}.`);
  checkCrc(info, crc);
  return new Blob(chunks);
}

/** Finds the end record (and its ZIP64 twin) and parses the central directory. */
async function readCentralDirectory(archive: Blob): Promise<CentralInfo[]> {
  const tailStart = Math.max(0, archive.size - (22 + U16_MAX));
  const tail = new Uint8Array(await archive.slice(tailStart).arrayBuffer());
  const tailView = new DataView(tail.buffer);
  let endAt = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (tailView.getUint32(i, true) === SIG_END && i + 22 + tailView.getUint16(i + 20, true) <= tail.byteLength) {
      endAt = i;
      break;
    }
  }
  if (endAt < 0) throw new AppError('zip/bad-archive', 'This is not a zip archive (no end-of-central-directory record): it is corrupt, truncated or another format.');
  if (tailView.getUint16(endAt + 4, true) !== 0 || tailView.getUint16(endAt + 6, true) !== 0) {
    throw new AppError('zip/unsupported', 'This is a multi-part (split) zip archive; join the parts into one archive first.');
  }
  let count = tailView.getUint16(endAt + 10, true);
  let centralSize = tailView.getUint32(endAt + 12, true);
  let centralOffset = tailView.getUint32(endAt + 16, true);
  const locatorAt = endAt - 20;
  if (locatorAt >= 0 && tailView.getUint32(locatorAt, true) === SIG_LOCATOR64) {
    const end64At = getUint64(tailView, locatorAt + 8);
    const end64 = new DataView(await archive.slice(end64At, end64At + 56).arrayBuffer());
    if (end64.byteLength < 56 || end64.getUint32(0, true) !== SIG_END64) {
      throw new AppError('zip/bad-archive', 'The ZIP64 end record is missing where its locator points: the archive is corrupt.');
    }
    count = getUint64(end64, 32);
    centralSize = getUint64(end64, 40);
    centralOffset = getUint64(end64, 48);
  }
  if (centralOffset + centralSize > archive.size) {
    throw new AppError('zip/bad-archive', `The central directory (bytes ${centralOffset}..${centralOffset + centralSize}) lies beyond the archive's ${archive.size} bytes: it is truncated.`);
  }
  const central = new Uint8Array(await archive.slice(centralOffset, centralOffset + centralSize).arrayBuffer());
  const view = new DataView(central.buffer);
  const infos: CentralInfo[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > central.byteLength || view.getUint32(at, true) !== SIG_CENTRAL) {
      throw new AppError('zip/bad-archive', `Central directory entry ${i + 1} of ${count} is missing or damaged: the archive is corrupt.`);
    }
    const flags = view.getUint16(at + 8, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const nameBytes = central.subarray(at + 46, at + 46 + nameLength);
    const extra = central.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
    const info: CentralInfo = {
      path: '',
      method: view.getUint16(at + 10, true),
      flags,
      crc: view.getUint32(at + 16, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      offset: view.getUint32(at + 42, true),
    };
    let name = flags & FLAG_UTF8 ? new TextDecoder().decode(nameBytes) : decodeCp437(nameBytes);
    readExtra(extra, info, nameBytes, (unicode) => (name = unicode));
    info.path = name.replace(/\\/g, '/');
    infos.push(info);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return infos;
}

/** Applies the ZIP64 extra (sizes and offset held in 64 bits) and the Info-ZIP Unicode path extra. */
function readExtra(extra: Uint8Array, info: CentralInfo, nameBytes: Uint8Array, setName: (name: string) => void): void {
  const view = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  for (let at = 0; at + 4 <= extra.byteLength; ) {
    const id = view.getUint16(at, true);
    const length = view.getUint16(at + 2, true);
    const body = at + 4;
    if (body + length > extra.byteLength) break;
    if (id === EXTRA_ZIP64) {
      let field = body;
      const next = () => {
        if (field + 8 > body + length) throw new AppError('zip/bad-archive', `The ZIP64 field of an entry is too short: the archive is corrupt.`);
        const value = getUint64(view, field);
        field += 8;
        return value;
      };
      if (info.size === U32_MAX) info.size = next();
      if (info.compressedSize === U32_MAX) info.compressedSize = next();
      if (info.offset === U32_MAX) info.offset = next();
    } else if (id === EXTRA_UNICODE_PATH && length >= 5 && extra[body] === 1) {
      // Version 1, then the CRC-32 of the header's own name, then the UTF-8 name; stale if the CRC differs.
      if (view.getUint32(body + 1, true) === crc32(nameBytes)) setName(new TextDecoder().decode(extra.subarray(body + 5, body + length)));
    }
    at = body + length;
  }
}

/** Code page 437, the encoding of names without the UTF-8 flag (Windows' built-in zip, old tools). */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function decodeCp437(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte < 128 ? String.fromCharCode(byte) : CP437_HIGH[byte - 128]!;
  return out;
}
