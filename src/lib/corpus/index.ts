/**
 * The corpus stage: documents from uploaded files (.txt, .jsonl, .parquet) or a Hugging Face dataset
 * (parquet over HTTP ranges), tokenized and packed into a `[nRows, ctx]` token matrix as delphi does.
 * Plain TypeScript, no DOM: runs in a worker and in Node. Import the stage from here; the other
 * modules of this folder are internal.
 */
export type { ColumnInfo, ColumnListing, ReadOptions } from './types.ts';
export { readTextFile, type TextReadOptions, type TextSplit } from './text.ts';
export { readJsonl, listJsonlColumns } from './jsonl.ts';
export { blobBuffer, httpRangeBuffer, listParquetColumns, openParquet, readParquet, type AsyncBuffer, type ParquetInput, type ParquetReadOptions } from './parquet.ts';
export {
  HF_HUB_URL,
  PARQUET_CONVERSION_REVISION,
  hubDatasetFileUrl,
  hubParquetApiUrl,
  listHubDatasetColumns,
  readHubDataset,
  resolveHubParquetFiles,
  type HubDatasetRef,
  type HubParquetFile,
  type HubReadOptions,
  type ResolvedParquetFiles,
} from './hub-dataset.ts';
export { corpusKindOf, delphiDatasetFields, describeSource, listColumns, readDocuments, type CorpusKind, type CorpusSource, type SourceOptions } from './sources.ts';
export {
  DEFAULT_CTX,
  DEFAULT_MAX_TOKENS,
  packRowStream,
  packRows,
  type PackOptions,
  type PackRowsOptions,
  type PackStats,
  type PackStreamOptions,
  type PackedCorpus,
  type RowBatch,
  type Tokenizer,
} from './pack.ts';
export { DEFAULT_SHUFFLE_SEED, rowShuffleOrder, shuffleRows, splitmix32 } from './shuffle.ts';
export { previewRows, type RowPreview } from './preview.ts';
