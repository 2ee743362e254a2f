/**
 * Zip archives, store-only writing and stored-or-deflated reading. Plain TypeScript, no DOM: runs in
 * workers and in Node.
 */
export { crc32, crc32Blob } from './crc.ts';
export { ZipWriter, type ZipWriterOptions } from './writer.ts';
export { readZip, type ReadZipOptions, type ZipEntry } from './reader.ts';
