/**
 * CRC-32 (IEEE 802.3, as zip and gzip use), slicing by 8: about 1 GB/s in V8, so hashing a large cache
 * costs far less than writing it.
 */
import { throwIfAborted } from '../../util/index.ts';

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
