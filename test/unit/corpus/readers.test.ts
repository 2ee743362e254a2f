/**
 * Document readers on the corpus fixtures: .txt paragraphs, streamed JSON Lines, parquet (plain,
 * SNAPPY from the fixtures, GZIP and BROTLI written here), column listings and the errors a user
 * sees for a malformed line, a missing column and a non-text column.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { errorCode } from '../../../src/lib/errors.ts';
import {
  corpusKindOf,
  delphiDatasetFields,
  describeSource,
  listColumns,
  listJsonlColumns,
  listParquetColumns,
  readDocuments,
  readJsonl,
  readParquet,
  readTextFile,
} from '../../../src/lib/corpus/index.ts';
import { CORPUS_DOCUMENTS, CORPUS_FIXTURES_DIR, FIXTURE_SLICES, parquetFixtureColumns, txtParagraphs, writeParquet } from '../../../scripts/fixtures/corpus.ts';
import { collect, failure } from '../../support/async.ts';

const ROOT = join(import.meta.dirname, '../../..');
const fixture = (name: string): File => new File([readFileSync(join(ROOT, CORPUS_FIXTURES_DIR, name))], name);

/** A Blob whose stream hands out tiny chunks, so lines and UTF-8 characters straddle chunk edges. */
class ChunkedBlob extends Blob {
  constructor(parts: BlobPart[], private readonly chunkSize: number) {
    super(parts);
  }
  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const blob = this;
    let offset = 0;
    return new ReadableStream({
      async pull(controller) {
        if (offset >= blob.size) return controller.close();
        controller.enqueue(new Uint8Array(await blob.slice(offset, offset + blob.chunkSize).arrayBuffer()));
        offset += blob.chunkSize;
      },
    });
  }
}

const texts = (slice: readonly [number, number]) => CORPUS_DOCUMENTS.slice(...slice).map((d) => d.text);

describe('plain text', () => {
  it('gives one document per blank-line-separated paragraph, keeping line breaks inside it', async () => {
    const documents = await collect(readTextFile(fixture('paragraphs.txt')));
    expect(documents).toEqual(txtParagraphs());
    expect(documents[0]).toContain('\n');
  });

  it('can split by line or keep the whole file', async () => {
    const lines = txtParagraphs().flatMap((p) => p.split('\n'));
    expect(await collect(readTextFile(fixture('paragraphs.txt'), { split: 'lines' }))).toEqual(lines);
    const whole = await collect(readTextFile(fixture('paragraphs.txt'), { split: 'whole' }));
    expect(whole).toHaveLength(1);
    expect(whole[0]).toBe(readFileSync(join(ROOT, CORPUS_FIXTURES_DIR, 'paragraphs.txt'), 'utf-8').replace(/\n$/, ''));
  });

  it('handles CRLF, a byte order mark and multi-byte characters split across stream chunks', async () => {
    const text = '\ufeffcafé au lait\r\nsecond line 東京\r\n\r\n🤖 robots\r\n  \r\nlast, no newline';
    for (const size of [1, 2, 3, 5, 64]) {
      const documents = await collect(readTextFile(new ChunkedBlob([text], size)));
      expect(documents, `chunks of ${size}`).toEqual(['café au lait\nsecond line 東京', '🤖 robots', 'last, no newline']);
    }
  });
});

describe('JSON Lines', () => {
  it('streams the chosen column', async () => {
    expect(await collect(readJsonl(fixture('documents.jsonl'), 'text'))).toEqual(texts(FIXTURE_SLICES.jsonl));
    const titles = await collect(readJsonl(new ChunkedBlob([readFileSync(join(ROOT, CORPUS_FIXTURES_DIR, 'documents.jsonl'))], 7), 'title'));
    expect(titles).toEqual(CORPUS_DOCUMENTS.slice(...FIXTURE_SLICES.jsonl).map((d) => d.title));
  });

  it('lists the columns of the first lines for the picker', async () => {
    const listing = await listJsonlColumns(fixture('documents.jsonl'));
    expect(listing.rows).toBe(12);
    expect(listing.suggested).toBe('text');
    expect(listing.columns.map(({ name, type, isText }) => ({ name, type, isText }))).toEqual([
      { name: 'id', type: 'number', isText: false },
      { name: 'title', type: 'string', isText: true },
      { name: 'text', type: 'string', isText: true },
    ]);
    expect(listing.columns[2]!.example).toBe(CORPUS_DOCUMENTS[12]!.text.slice(0, 200));
    expect((await listJsonlColumns(fixture('documents.jsonl'), { maxLines: 2 })).rows).toBe(2);
  });

  it('reads up to a malformed line, then names the line', async () => {
    const seen: string[] = [];
    const error = await failure(async () => {
      for await (const document of readJsonl(fixture('malformed.jsonl'), 'text')) seen.push(document);
    });
    expect(seen).toEqual(['The first line is fine.', 'So is the second.']);
    expect(errorCode(error)).toBe('corpus/bad-jsonl');
    expect(error.message).toMatch(/Line 3 of "malformed.jsonl" is not valid JSON/);
    const notObject = await failure(() => collect(readJsonl(new Blob(['{"text": "a"}\n[1, 2]\n']), 'text')));
    expect(notObject.message).toMatch(/Line 2 of the file is JSON but not an object/);
  });

  it('shows a short printable excerpt of a bad line, and calls a binary file so', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02, 0x1b, ...Array.from({ length: 4000 }, (_, i) => (i * 37 + 11) % 256).filter((b) => b !== 10)]);
    const binary = await failure(() => listJsonlColumns(new File([png], 'image.jsonl')));
    expect(errorCode(binary)).toBe('corpus/bad-jsonl');
    expect(binary.message).toMatch(/^Line 1 of "image\.jsonl" does not look like text \(it starts "\\uFFFDPNG\\u0000\\u0001\\u0002\\u001B.{0,20}\.\.\."\): is it a binary file named \.jsonl\?/);
    expect(binary.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\ufffd]/);
    expect(binary.message.length).toBeLessThan(250);
    // A text line that is not JSON: quoted, cut to 40 characters, its odd control character escaped.
    const long = await failure(() => collect(readJsonl(new File([`{"text": "a"}\n{"text": "tab\tand bell\u0007 ${'x'.repeat(200)}"\n`], 'long.jsonl'), 'text')));
    expect(long.message).toMatch(/^Line 2 of "long\.jsonl" is not valid JSON \(.*\): "\{"text": "tab\\tand bell\\u0007 x+\.\.\."\. Every line/);
    expect(/: "(.*)\.\.\."\. Every/.exec(long.message)![1]!.length).toBeLessThanOrEqual(40);
    expect(long.message).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
  });

  it('says which columns exist when the column is missing, and refuses non-text values', async () => {
    const missing = await failure(() => collect(readJsonl(fixture('documents.jsonl'), 'body')));
    expect(errorCode(missing)).toBe('corpus/missing-column');
    expect(missing.message).toContain('"id", "title", "text"');
    const numbers = await failure(() => collect(readJsonl(fixture('documents.jsonl'), 'id')));
    expect(errorCode(numbers)).toBe('corpus/not-text');
    expect(numbers.message).toContain('line 1');
  });

  it('gives empty documents for null or missing values after the first line, and skips blank lines', async () => {
    const blob = new Blob(['{"text": "one", "n": 1}\n\n{"text": null}\n{"other": 2}\r\n{"text": "four"}']);
    expect(await collect(readJsonl(blob, 'text'))).toEqual(['one', '', '', 'four']);
  });
});

describe('parquet', () => {
  const expected = [...texts(FIXTURE_SLICES.parquet), ''];

  it('reads a text column of an uncompressed and a snappy file (null as an empty document)', async () => {
    expect(await collect(readParquet(fixture('documents.parquet'), 'text'))).toEqual(expected);
    expect(await collect(readParquet(fixture('documents-snappy.parquet'), 'text'))).toEqual(expected);
  });

  it('reads GZIP and BROTLI pages through hyparquet-compressors', async () => {
    for (const codec of [{ id: 2, compress: (b: Uint8Array) => new Uint8Array(gzipSync(b)) }, { id: 4, compress: (b: Uint8Array) => new Uint8Array(brotliCompressSync(b)) }]) {
      const file = new File([writeParquet(parquetFixtureColumns(), { codec, rowGroupSize: 5 })], `codec-${codec.id}.parquet`);
      expect(await collect(readParquet(file, 'text'))).toEqual(expected);
    }
  });

  it('lists columns from the footer', async () => {
    const listing = await listParquetColumns(fixture('documents-snappy.parquet'));
    expect(listing).toEqual({
      columns: [
        { name: 'id', type: 'INT64', isText: false },
        { name: 'title', type: 'BYTE_ARRAY (STRING)', isText: true },
        { name: 'text', type: 'BYTE_ARRAY (STRING)', isText: true },
      ],
      suggested: 'text',
      rows: 15,
    });
  });

  it('explains a missing column, a non-text column and a file that is not parquet', async () => {
    const missing = await failure(() => collect(readParquet(fixture('documents.parquet'), 'content')));
    expect(errorCode(missing)).toBe('corpus/missing-column');
    expect(missing.message).toContain('"id" (INT64), "title" (BYTE_ARRAY (STRING)), "text" (BYTE_ARRAY (STRING))');
    const numbers = await failure(() => collect(readParquet(fixture('documents.parquet'), 'id')));
    expect(errorCode(numbers)).toBe('corpus/not-text');
    expect(numbers.message).toContain('Text columns: "title", "text"');
    const notParquet = await failure(() => collect(readParquet(fixture('paragraphs.txt'), 'text')));
    expect(errorCode(notParquet)).toBe('corpus/bad-parquet');
  });
});

describe('sources', () => {
  it('reads every kind through one door', async () => {
    expect(await collect(readDocuments({ kind: 'text', file: fixture('paragraphs.txt') }))).toEqual(txtParagraphs());
    expect(await collect(readDocuments({ kind: 'jsonl', file: fixture('documents.jsonl'), column: 'text' }))).toEqual(texts(FIXTURE_SLICES.jsonl));
    expect((await collect(readDocuments({ kind: 'parquet', file: fixture('documents.parquet'), column: 'title' })))[0]).toBe(CORPUS_DOCUMENTS[24]!.title);
    expect((await listColumns({ kind: 'parquet', file: fixture('documents.parquet') })).suggested).toBe('text');
    expect((await listColumns({ kind: 'jsonl', file: fixture('documents.jsonl') })).columns).toHaveLength(3);
    expect(await listColumns({ kind: 'text', file: fixture('paragraphs.txt') })).toEqual({ columns: [], suggested: undefined, rows: 0 });
  });

  it('stops reading when the consumer stops', async () => {
    const documents = readDocuments({ kind: 'jsonl', file: fixture('documents.jsonl'), column: 'text' })[Symbol.asyncIterator]();
    expect((await documents.next()).value).toBe(CORPUS_DOCUMENTS[12]!.text);
    await documents.return?.();
    expect((await documents.next()).done).toBe(true);
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failure(() => collect(readTextFile(fixture('paragraphs.txt'), { signal: controller.signal })));
    expect(errorCode(error)).toBe('cancelled');
  });

  it('names kinds and describes sources', () => {
    expect(corpusKindOf('notes.TXT')).toBe('text');
    expect(corpusKindOf('a.ndjson')).toBe('jsonl');
    expect(corpusKindOf('x.parquet')).toBe('parquet');
    expect(errorCode((() => { try { corpusKindOf('data.csv'); } catch (e) { return e; } })())).toBe('corpus/bad-options');
    const hub = { kind: 'hub' as const, repo: 'NeelNanda/pile-10k', column: 'text' };
    expect(describeSource(hub)).toBe('NeelNanda/pile-10k default/train [text]');
    expect(delphiDatasetFields(hub)).toEqual({ dataset_repo: 'NeelNanda/pile-10k', dataset_split: 'train', dataset_name: 'default', dataset_column: 'text' });
    expect(describeSource({ kind: 'jsonl', file: fixture('documents.jsonl'), column: 'title' })).toBe('documents.jsonl [title]');
  });
});
