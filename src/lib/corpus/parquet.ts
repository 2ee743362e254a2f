/**
 * Parquet files through hyparquet: a Blob (an uploaded file) or an HTTP URL read in byte ranges, so
 * only the footer and the chosen column's chunks are downloaded, one row group at a time, and reading
 * stops as soon as the caller stops iterating (the token budget is reached).
 *
 * Compression: hyparquet decodes UNCOMPRESSED and SNAPPY itself (what the hub's parquet conversion
 * and pandas/pyarrow write). Files with GZIP, BROTLI, ZSTD (polars' default), LZ4 or LZ4_RAW pages
 * load hyparquet-compressors on demand (a dynamic import; it compiles a small wasm module
 * synchronously, which browsers allow in workers).
 */
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type Compressors, type FileMetaData, type SchemaTree } from 'hyparquet';
import { AppError, errorCode } from '../errors.ts';
import { suggestColumn, type ColumnInfo, type ColumnListing, type ReadOptions } from './types.ts';
import { eventLoopBreather, isAbortError, throwIfAborted } from '../util/index.ts';
import { blobName } from './util.ts';

export type { AsyncBuffer } from 'hyparquet';

/** A parquet file: an uploaded Blob/File, an http(s) URL, or any AsyncBuffer. */
export type ParquetInput = Blob | string | AsyncBuffer;

export interface ParquetReadOptions extends ReadOptions {
  /** Used for URLs (tests pass a counting fetch). Default: globalThis.fetch. */
  fetch?: typeof fetch;
  /** A URL's size when already known (skips the HEAD request). */
  byteLength?: number;
  /** Bytes read from the end of the file in the first request, footer included (hyparquet's default is 512 KiB). */
  initialFetchSize?: number;
}

/** An AsyncBuffer over a Blob: each slice reads only its bytes of the file. */
export function blobBuffer(blob: Blob): AsyncBuffer {
  return { byteLength: blob.size, slice: (start, end) => blob.slice(start, end).arrayBuffer() };
}

function httpHint(status: number): string {
  if (status === 401 || status === 403) return 'The file is private or gated; this app reads public files only.';
  if (status === 404) return 'There is no file at that address: check the repo, revision and path.';
  if (status === 416) return 'The server refused the byte range: the file changed while it was being read; start again.';
  return status >= 500 ? 'The server had a problem; try again later.' : '';
}

/**
 * An AsyncBuffer over an HTTP URL: the size from a HEAD request (or a one-byte range request where
 * HEAD is refused or has no Content-Length), then one `Range: bytes=a-b` GET per slice. A server that
 * ignores Range and answers 200 gets read once, whole, and later slices come from that copy.
 */
export async function httpRangeBuffer(url: string, options: Omit<ParquetReadOptions, 'initialFetchSize'> = {}): Promise<AsyncBuffer> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const { signal } = options;
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    throwIfAborted(signal, `Reading ${url}`);
    try {
      return await work();
    } catch (error) {
      if (errorCode(error)) throw error;
      if (isAbortError(error) || signal?.aborted) throw new AppError('cancelled', `Reading ${url} was cancelled.`);
      throw new AppError('corpus/fetch-failed', `Could not reach ${url} (${(error as Error).message}). Check the address and your connection; a server on another origin must allow CORS.`);
    }
  };
  const failed = (response: Response) => new AppError('corpus/fetch-failed', `Reading ${url} failed with HTTP ${response.status}. ${httpHint(response.status)}`.trim());
  const get = (init: RequestInit) => guard(() => doFetch(url, { ...init, ...(signal ? { signal } : {}) }));

  let byteLength = options.byteLength;
  let whole: Promise<ArrayBuffer> | undefined;
  if (byteLength === undefined) {
    const head = await get({ method: 'HEAD' });
    const length = head.headers.get('content-length');
    if (head.ok && length !== null && Number.isFinite(Number(length))) {
      byteLength = Number(length);
    } else if (head.status === 401 || head.status === 404) {
      throw failed(head);
    } else {
      const probe = await get({ headers: { Range: 'bytes=0-0' } });
      const total = /\/(\d+)\s*$/.exec(probe.headers.get('content-range') ?? '');
      if (probe.status === 206 && total) {
        byteLength = Number(total[1]);
        await guard(() => probe.arrayBuffer());
      } else if (probe.ok) {
        whole = guard(() => probe.arrayBuffer());
        byteLength = (await whole).byteLength;
      } else {
        throw failed(probe);
      }
    }
  }
  const size = byteLength;
  return {
    byteLength: size,
    async slice(start: number, end: number = size): Promise<ArrayBuffer> {
      const from = start < 0 ? Math.max(0, size + start) : start;
      const to = Math.min(end, size);
      if (whole) return (await whole).slice(from, to);
      if (to <= from) return new ArrayBuffer(0);
      const response = await get({ headers: { Range: `bytes=${from}-${to - 1}` } });
      if (response.status === 206) {
        const bytes = await guard(() => response.arrayBuffer());
        if (bytes.byteLength !== to - from) throw new AppError('corpus/fetch-failed', `Reading bytes ${from}-${to - 1} of ${url} returned ${bytes.byteLength} bytes instead of ${to - from}; try again.`);
        return bytes;
      }
      if (response.ok) {
        // The server ignored the Range header and sent the whole file: keep it for later slices.
        whole = guard(() => response.arrayBuffer());
        return (await whole).slice(from, to);
      }
      throw failed(response);
    },
  };
}

interface OpenParquet {
  buffer: AsyncBuffer;
  metadata: FileMetaData;
  name: string;
}

const nameOf = (input: ParquetInput): string => (typeof input === 'string' ? input : input instanceof Blob ? blobName(input) : 'the parquet file');

/** Opens a parquet file and reads its footer (one range request for a URL). */
export async function openParquet(input: ParquetInput, options: ParquetReadOptions = {}): Promise<OpenParquet> {
  const name = nameOf(input);
  const buffer = typeof input === 'string' ? await httpRangeBuffer(input, options) : input instanceof Blob ? blobBuffer(input) : input;
  throwIfAborted(options.signal, `Reading ${name}`);
  try {
    const metadata = await parquetMetadataAsync(buffer, options.initialFetchSize !== undefined ? { initialFetchSize: options.initialFetchSize } : {});
    return { buffer, metadata, name };
  } catch (error) {
    if (errorCode(error)) throw error;
    throw new AppError('corpus/bad-parquet', `${name} is not a readable parquet file (${(error as Error).message}). Check that it is a complete .parquet file, not a JSON or CSV file renamed.`);
  }
}

function describeType(node: SchemaTree): string {
  const { element } = node;
  if (node.children.length > 0) return element.logical_type?.type ?? element.converted_type ?? 'STRUCT';
  const annotation = element.logical_type?.type ?? element.converted_type;
  const base = element.type ?? 'UNKNOWN';
  return `${base}${annotation ? ` (${annotation})` : ''}${element.repetition_type === 'REPEATED' ? ' repeated' : ''}`;
}

/** BYTE_ARRAY columns without a non-text annotation hold text (hyparquet decodes them as UTF-8). */
function isTextNode(node: SchemaTree): boolean {
  const { element } = node;
  if (node.children.length > 0 || element.type !== 'BYTE_ARRAY' || element.repetition_type === 'REPEATED') return false;
  const annotation = element.logical_type?.type ?? element.converted_type;
  return annotation === undefined || annotation === 'STRING' || annotation === 'UTF8' || annotation === 'ENUM';
}

function columnsOf(metadata: FileMetaData): Array<{ node: SchemaTree; info: ColumnInfo }> {
  return parquetSchema(metadata).children.map((node) => ({ node, info: { name: node.element.name, type: describeType(node), isText: isTextNode(node) } }));
}

/** The top-level columns of a parquet file, from its footer alone. */
export async function listParquetColumns(input: ParquetInput, options: ParquetReadOptions = {}): Promise<ColumnListing> {
  const { metadata } = await openParquet(input, options);
  const columns = columnsOf(metadata).map((c) => c.info);
  return { columns, suggested: suggestColumn(columns), rows: Number(metadata.num_rows) };
}

function checkTextColumn(metadata: FileMetaData, column: string, name: string): void {
  const columns = columnsOf(metadata);
  const found = columns.find((c) => c.info.name === column);
  if (!found) {
    throw new AppError('corpus/missing-column', `${name} has no column "${column}". Its columns: ${columns.map((c) => `"${c.info.name}" (${c.info.type})`).join(', ') || 'none'}. Pick one of the text columns.`);
  }
  if (!found.info.isText) {
    const text = columns.filter((c) => c.info.isText).map((c) => `"${c.info.name}"`);
    throw new AppError('corpus/not-text', `Column "${column}" of ${name} holds ${found.info.type}, not text. ${text.length ? `Text columns: ${text.join(', ')}.` : 'The file has no text column.'}`);
  }
}

const BUILT_IN_CODECS = new Set(['UNCOMPRESSED', 'SNAPPY']);

/** Decompressors for the codecs hyparquet lacks, loaded only when the file uses one. */
async function compressorsFor(metadata: FileMetaData, column: string): Promise<Compressors | undefined> {
  const codecs = new Set(metadata.row_groups.flatMap((group) => group.columns.filter((c) => c.meta_data?.path_in_schema[0] === column).map((c) => c.meta_data?.codec ?? 'UNCOMPRESSED')));
  if ([...codecs].every((codec) => BUILT_IN_CODECS.has(codec))) return undefined;
  const extra = await import('hyparquet-compressors');
  return {
    GZIP: extra.decompressGzip,
    BROTLI: extra.decompressBrotli,
    ZSTD: (input) => extra.decompressZstd(input),
    LZ4: extra.decompressLz4,
    LZ4_RAW: extra.decompressLz4Raw,
  };
}

/**
 * The values of one text column, row group by row group, as documents. Null values come out as ''
 * (the packer counts them as empty documents and skips them).
 */
export async function* readParquet(input: ParquetInput, column: string, options: ParquetReadOptions = {}): AsyncGenerator<string> {
  const { buffer, metadata, name } = await openParquet(input, options);
  checkTextColumn(metadata, column, name);
  const compressors = await compressorsFor(metadata, column);
  const breathe = eventLoopBreather();
  const decoder = new TextDecoder();
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    throwIfAborted(options.signal, `Reading ${name}`);
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, columns: [column], rowStart, rowEnd, ...(compressors ? { compressors } : {}) });
    } catch (error) {
      if (errorCode(error)) throw error;
      const codec = group.columns.find((c) => c.meta_data?.path_in_schema[0] === column)?.meta_data?.codec;
      throw new AppError('corpus/bad-parquet', `Could not decode rows ${rowStart}-${rowEnd - 1} of ${name} (${(error as Error).message}; column "${column}", compression ${codec ?? 'unknown'}). The file may be damaged or use an unsupported encoding; re-save it with pyarrow (snappy or zstd).`);
    }
    for (const row of rows) {
      const value = row[column];
      if (typeof value === 'string') yield value;
      else if (value === null || value === undefined) yield '';
      else if (value instanceof Uint8Array) yield decoder.decode(value);
      else throw new AppError('corpus/not-text', `Column "${column}" of ${name} holds ${typeof value} values, not text. Pick a text column.`);
      await breathe();
    }
    rowStart = rowEnd;
  }
}
