/**
 * Every corpus source behind one door: a source record (what the UI collects and what a run stores)
 * goes in, an async iterable of document strings comes out. One table row per kind.
 */
import { AppError } from '../errors.ts';
import { listHubDatasetColumns, readHubDataset, type HubDatasetRef, type HubReadOptions } from './hub-dataset.ts';
import { listJsonlColumns, readJsonl } from './jsonl.ts';
import { listParquetColumns, readParquet } from './parquet.ts';
import { readTextFile, type TextSplit } from './text.ts';
import type { ColumnListing } from './types.ts';

export type CorpusSource =
  | { kind: 'text'; file: Blob; split?: TextSplit }
  | { kind: 'jsonl'; file: Blob; column: string }
  /** `file`: an uploaded Blob/File or an http(s) URL of a parquet file. */
  | { kind: 'parquet'; file: Blob | string; column: string }
  | ({ kind: 'hub'; column: string } & HubDatasetRef);

export type CorpusKind = CorpusSource['kind'];

/** Options for every source; `fetch` and `initialFetchSize` only matter to parquet over HTTP. */
export type SourceOptions = HubReadOptions;

type SourceOf<K extends CorpusKind> = Extract<CorpusSource, { kind: K }>;

interface SourceReader<K extends CorpusKind> {
  read(source: SourceOf<K>, options: SourceOptions): AsyncIterable<string>;
  /** undefined: the kind has no columns (plain text). */
  columns?(source: Omit<SourceOf<K>, 'column'>, options: SourceOptions): Promise<ColumnListing>;
  describe(source: SourceOf<K>): string;
}

const fileName = (file: Blob | string): string => (typeof file === 'string' ? file : ((file as Partial<File>).name ?? 'file'));

const READERS: { [K in CorpusKind]: SourceReader<K> } = {
  text: {
    read: (s, o) => readTextFile(s.file, { split: s.split ?? 'paragraphs', ...(o.signal ? { signal: o.signal } : {}) }),
    describe: (s) => `${fileName(s.file)} (${s.split ?? 'paragraphs'})`,
  },
  jsonl: {
    read: (s, o) => readJsonl(s.file, s.column, o),
    columns: (s, o) => listJsonlColumns(s.file, o),
    describe: (s) => `${fileName(s.file)} [${s.column}]`,
  },
  parquet: {
    read: (s, o) => readParquet(s.file, s.column, o),
    columns: (s, o) => listParquetColumns(s.file, o),
    describe: (s) => `${fileName(s.file)} [${s.column}]`,
  },
  hub: {
    read: (s, o) => readHubDataset(s, o),
    columns: (s, o) => listHubDatasetColumns(s, o),
    describe: (s) => `${s.repo} ${s.config ?? 'default'}/${s.split ?? 'train'} [${s.column}]`,
  },
};

const readerOf = <K extends CorpusKind>(kind: K): SourceReader<K> => READERS[kind];

/** The documents of a source, lazily: stop iterating and nothing more is read. */
export function readDocuments(source: CorpusSource, options: SourceOptions = {}): AsyncIterable<string> {
  return readerOf(source.kind).read(source as never, options);
}

/** The columns a source offers for the picker; plain text has none (an empty listing). */
export async function listColumns(source: { [K in CorpusKind]: Omit<SourceOf<K>, 'column'> }[CorpusKind], options: SourceOptions = {}): Promise<ColumnListing> {
  const reader = readerOf(source.kind);
  if (!reader.columns) return { columns: [], suggested: undefined, rows: 0 };
  return reader.columns(source as never, options);
}

/** A one-line description for run records and the UI. */
export function describeSource(source: CorpusSource): string {
  return readerOf(source.kind).describe(source as never);
}

/** The file kind from its name (.txt/.text/.md, .jsonl/.ndjson, .parquet). */
export function corpusKindOf(name: string): 'text' | 'jsonl' | 'parquet' {
  const extension = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  if (extension === 'txt' || extension === 'text' || extension === 'md') return 'text';
  if (extension === 'jsonl' || extension === 'ndjson') return 'jsonl';
  if (extension === 'parquet') return 'parquet';
  throw new AppError('corpus/bad-options', `"${name}" is not a corpus file this app reads: use .txt (one document per paragraph), .jsonl (one JSON object per line) or .parquet.`);
}

/** The dataset fields of delphi's cache config.json for a source. */
export function delphiDatasetFields(source: CorpusSource): { dataset_repo: string; dataset_split: string; dataset_name: string; dataset_column: string } {
  if (source.kind === 'hub') return { dataset_repo: source.repo, dataset_split: source.split ?? 'train', dataset_name: source.config ?? 'default', dataset_column: source.column };
  return { dataset_repo: fileName(source.file), dataset_split: 'train', dataset_name: '', dataset_column: source.kind === 'text' ? 'text' : source.column };
}
