/** Zip record layouts (APPNOTE.TXT 6.3.10): signatures, flags and limits, and 64-bit fields. */
import { AppError } from '../../errors.ts';

export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_END = 0x06054b50;
export const SIG_END64 = 0x06064b50;
export const SIG_LOCATOR64 = 0x07064b50;
export const EXTRA_ZIP64 = 0x0001;
export const EXTRA_UNICODE_PATH = 0x7075;
export const FLAG_ENCRYPTED = 0x0001;
export const FLAG_UTF8 = 0x0800;
export const METHOD_STORE = 0;
export const METHOD_DEFLATE = 8;
export const U16_MAX = 0xffff;
export const U32_MAX = 0xffffffff;
/** "Made by" Unix, spec 4.5; "needed" 2.0 plain, 4.5 with ZIP64. */
export const VERSION_MADE_BY = (3 << 8) | 45;
export const VERSION_PLAIN = 20;
export const VERSION_ZIP64 = 45;
/** Regular file, rw-r--r--, so that `unzip` on Unix extracts files with ordinary permissions. */
export const EXTERNAL_ATTRS = (0o100644 << 16) >>> 0;

/** Writes a number below 2^53 as a little-endian uint64. */
export function setUint64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % 0x1_0000_0000, true);
  view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** Reads a little-endian uint64; one past 2^53 cannot be a real size or offset here. */
export function getUint64(view: DataView, at: number): number {
  const value = view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x1_0000_0000;
  if (!Number.isSafeInteger(value)) throw new AppError('zip/unsupported', 'The archive records a size or offset beyond 2^53 bytes.');
  return value;
}
