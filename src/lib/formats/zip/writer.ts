/**
 * The zip writer: files stored uncompressed (the caches we export are float16 and token ids, which
 * deflate barely shrinks). It never holds the archive in one buffer: each file becomes its own Blob
 * part (a browser may keep big Blobs on disk), and `finish()` returns a Blob made of those parts.
 * ZIP64 records are written exactly when needed: a file or an offset at or past 4 GiB, or 65535
 * entries or more.
 */
import { AppError } from '../../errors.ts';
import { crc32, crc32Blob } from './crc.ts';
import { EXTERNAL_ATTRS, EXTRA_ZIP64, FLAG_UTF8, METHOD_STORE, SIG_CENTRAL, SIG_END, SIG_END64, SIG_LOCAL, SIG_LOCATOR64, setUint64, U16_MAX, U32_MAX, VERSION_MADE_BY, VERSION_PLAIN, VERSION_ZIP64 } from './format.ts';

/** MS-DOS time and date, in local time as zip tools expect; dates before 1980 clamp to 1980-01-01. */
function dosDateTime(date: Date): { time: number; date: number } {
  if (date.getFullYear() < 1980) return { time: 0, date: (1 << 5) | 1 };
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((Math.min(date.getFullYear(), 2107) - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

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
