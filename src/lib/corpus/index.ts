/**
 * The corpus stage: documents from uploaded files (.txt, .jsonl, .parquet) or a Hugging Face dataset
 * (parquet over HTTP ranges), tokenized and packed into a `[nRows, ctx]` token matrix as delphi does.
 * Plain TypeScript, no DOM: runs in a worker and in Node. Import the stage from here; the other
 * modules of this folder are internal.
 */
export * from './types.ts';
export * from './text.ts';
export * from './jsonl.ts';
export * from './parquet.ts';
export * from './hub-dataset.ts';
export * from './sources.ts';
export * from './pack.ts';
export * from './shuffle.ts';
export * from './preview.ts';
export * from './settings.ts';
