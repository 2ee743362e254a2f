/**
 * The zip reader, for stored and deflated entries, so that a zip made by another tool (Finder,
 * Windows, `zip`, Python's zipfile) can be imported too. It slices entries out of the archive Blob
 * without copying stored ones; deflated entries are inflated with the platform's
 * `DecompressionStream('deflate-raw')` (Chromium, Firefox, Safari, Node 20).
 */
import { AppError } from '../../errors.ts';
import { throwIfAborted } from '../../util/index.ts';
import { crc32, crc32Blob } from './crc.ts';
import { EXTRA_UNICODE_PATH, EXTRA_ZIP64, FLAG_ENCRYPTED, FLAG_UTF8, getUint64, METHOD_DEFLATE, METHOD_STORE, SIG_CENTRAL, SIG_END, SIG_END64, SIG_LOCAL, SIG_LOCATOR64, U16_MAX, U32_MAX } from './format.ts';

export interface ZipEntry {
  /** Path inside the archive, '/' between folders. */
  path: string;
  /** The file's bytes: a slice of the archive for stored entries, the inflated bytes for deflated ones. */
  blob: Blob;
}

export interface ReadZipOptions {
  /** Also check the CRC of stored entries, which reads the whole archive once (deflated ones are always checked). */
  verifyStored?: boolean;
  /** The entries wanted; the others are skipped unread (a deflated one is never inflated). */
  accept?: (path: string) => boolean;
  /** The most bytes an entry may unpack to: a larger one is refused before it is read, with its size. */
  maxEntryBytes?: (path: string) => number;
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
    if (options.accept && !options.accept(info.path)) continue;
    const most = options.maxEntryBytes?.(info.path);
    if (most !== undefined && info.size > most) {
      throw new AppError('zip/too-large', `"${info.path}" unpacks to ${megabytes(info.size)}, more than the ${megabytes(most)} such a file may have here: it cannot be what it claims to be. Nothing was imported.`);
    }
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

const megabytes = (bytes: number) => `${(bytes / 2 ** 20).toLocaleString('en-US', { maximumFractionDigits: bytes < 2 ** 20 ? 3 : 1 })} MB`;

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
