/**
 * Row packing as delphi does it (its `chunk_and_tokenize`): every document is tokenized and preceded
 * by one EOS, so the token stream is `EOS doc1 EOS doc2 EOS doc3 ...` (EOS between documents and one
 * in front); the stream is cut into rows of `ctx` tokens; the last partial row is dropped. Reading
 * stops once `floor(maxTokens / ctx)` rows are full: later documents are never read or tokenized.
 *
 * Where we differ from delphi, and why:
 * - delphi shuffles the whole dataset's documents (seed 22) before packing, so its rows sample the
 *   whole split. A stream cannot do that without reading everything, so we pack the first documents
 *   in file order up to the budget and then shuffle the rows (seeded, see shuffle.ts). The rows are
 *   the same set an unshuffled run gives; only their order changes (which rows a paused cache holds,
 *   which rows share a chunk). To sample a large dataset more widely, pick a different split or shard.
 * - delphi tokenizes the joined text of a batch of 2048 documents and drops the partial row of each
 *   batch; we drop only the final partial row. Tokenizing documents one by one and inserting the EOS
 *   id gives the same tokens (the EOS text is a special token, so BPE never merges across it).
 * - Empty documents ('' values, nulls) are skipped and counted, not turned into a lone EOS.
 *
 * `prependBos` (SAEs trained with TransformerLens's prepend_bos, see the SAE's cfg.json): every row
 * is `[BOS] + ctx-1 stream tokens`. When the stream token that would follow the BOS is itself the
 * BOS id (GPT-2: BOS = EOS = <|endoftext|>, so a row that starts at a document boundary), it is used
 * as the row's BOS instead of adding a second one: no row starts with two BOS tokens, and the
 * document boundary marker is kept. `filterBos` (delphi's filter_bos) removes BOS ids that the
 * tokenizer put inside documents (tokenizers that add BOS on every encode).
 *
 * Memory: rows are written into Uint32Array batches as they fill, never one JS array per token; only
 * one document's token ids exist as a JS array at a time.
 */
import { AppError } from '../errors.ts';
import { DEFAULT_SHUFFLE_SEED, shuffleRows } from './shuffle.ts';
import { eventLoopBreather, throwIfAborted } from '../util/index.ts';

/** What packing needs from a tokenizer (the worker adapts transformers.js's: encode without special tokens, eos_token_id). */
export interface Tokenizer {
  encode(text: string): number[];
  eosTokenId: number;
  /** Defaults to eosTokenId (GPT-2 has one token for both). */
  bosTokenId?: number;
}

export const DEFAULT_CTX = 256;
/** delphi's default n_tokens. */
export const DEFAULT_MAX_TOKENS = 10_000_000;

export interface PackOptions {
  /** Tokens per row (delphi's cache_ctx_len); default 256. */
  ctx?: number;
  /** Token budget, rounded down to whole rows; default 10M. Infinity packs the whole corpus. */
  maxTokens?: number;
  /** Start every row with BOS (see above); default false. */
  prependBos?: boolean;
  /** Default: the tokenizer's bosTokenId, else its eosTokenId. */
  bosTokenId?: number;
  /** Remove BOS ids from each document's tokens; default false. */
  filterBos?: boolean;
  signal?: AbortSignal;
  /** Called after each batch of rows and at the end. */
  onProgress?: (stats: PackStats) => void;
}

export interface PackStreamOptions extends PackOptions {
  /** Rows per yielded batch; default 256. */
  batchRows?: number;
}

export interface PackRowsOptions extends PackOptions {
  /** Shuffle the rows (seeded); default true. */
  shuffle?: boolean;
  /** Default 22 (delphi's dataset seed). */
  seed?: number;
}

export interface PackStats {
  /** Non-empty documents tokenized (the one the budget cut included). */
  documents: number;
  /** Empty documents ('' or null values) skipped. */
  emptyDocuments: number;
  /** Tokens produced by tokenizing: document tokens plus one EOS per document. */
  streamTokens: number;
  rows: number;
  /** rows * ctx. */
  tokens: number;
  /** floor(maxTokens / ctx); Infinity when unbounded. */
  maxRows: number;
  /** Stream tokens in no row: the last partial row, or the rest of the document the budget cut. */
  droppedTokens: number;
  /** BOS tokens added at row starts (prependBos). */
  insertedBos: number;
  /** BOS tokens removed from documents (filterBos). */
  filteredBos: number;
  /** True when the budget filled; false when the corpus ended first (the budget is larger than the corpus). */
  budgetReached: boolean;
}

/** A batch of packed rows in stream order. */
export interface RowBatch {
  /** `nRows * ctx` tokens, row-major; a fresh buffer the consumer owns (transferable). */
  tokens: Uint32Array;
  /** Index of the batch's first row in the whole stream. */
  firstRow: number;
  nRows: number;
  /** Cumulative so far; final when `last`. */
  stats: PackStats;
  /** The final batch (it may hold 0 rows when the previous batch ended exactly at the end). */
  last: boolean;
}

export interface PackedCorpus {
  /** `[nRows, ctx]` row-major. */
  tokens: Uint32Array;
  ctx: number;
  nRows: number;
  stats: PackStats;
  /** The seed the rows were shuffled with; undefined when not shuffled. */
  shuffleSeed: number | undefined;
}

const isTokenId = (id: number): boolean => Number.isInteger(id) && id >= 0 && id < 2 ** 32;

function settings(tokenizer: Tokenizer, options: PackStreamOptions) {
  const ctx = options.ctx ?? DEFAULT_CTX;
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  const batchRows = options.batchRows ?? 256;
  const bos = options.bosTokenId ?? tokenizer.bosTokenId ?? tokenizer.eosTokenId;
  if (!Number.isInteger(ctx) || ctx < 2) throw new AppError('corpus/bad-options', `The row length (ctx) must be a whole number of at least 2 tokens, not ${ctx}.`);
  if (!(maxTokens >= ctx)) throw new AppError('corpus/bad-options', `The token budget (${maxTokens}) is smaller than one row of ${ctx} tokens: raise it or shorten the rows.`);
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new AppError('corpus/bad-options', `batchRows must be a whole number of at least 1, not ${batchRows}.`);
  if (!isTokenId(tokenizer.eosTokenId)) throw new AppError('corpus/bad-options', `The tokenizer's EOS id (${tokenizer.eosTokenId}) is not a token id: the tokenizer needs an end-of-text token.`);
  if (!isTokenId(bos)) throw new AppError('corpus/bad-options', `The BOS id (${bos}) is not a token id.`);
  return { ctx, maxRows: Math.floor(maxTokens / ctx), batchRows, bos, eos: tokenizer.eosTokenId, prependBos: options.prependBos ?? false, filterBos: options.filterBos ?? false };
}

/**
 * Packs rows and yields them in batches as they fill, in stream order (no shuffle: that needs every
 * row; see packRows). For caching while tokenization goes on; the consumer may stop early.
 */
export async function* packRowStream(documents: AsyncIterable<string> | Iterable<string>, tokenizer: Tokenizer, options: PackStreamOptions = {}): AsyncGenerator<RowBatch> {
  const { ctx, maxRows, batchRows, bos, eos, prependBos, filterBos } = settings(tokenizer, options);
  const stats: PackStats = { documents: 0, emptyDocuments: 0, streamTokens: 0, rows: 0, tokens: 0, maxRows, droppedTokens: 0, insertedBos: 0, filteredBos: 0, budgetReached: false };
  let usedStream = 0;
  const snapshot = (): PackStats => ({ ...stats, tokens: stats.rows * ctx, droppedTokens: stats.streamTokens - usedStream });
  const breathe = eventLoopBreather();

  let batch = new Uint32Array(Math.min(batchRows, maxRows) * ctx);
  let batchFilled = 0; // full rows in `batch`
  let firstRow = 0;
  let fill = 0; // tokens in the row being filled
  let rowStream = 0; // stream tokens in that row
  let rowInserted = 0; // 1 when that row got an inserted BOS

  outer: for await (const text of documents) {
    throwIfAborted(options.signal, 'Packing the corpus');
    if (text === '') {
      stats.emptyDocuments++;
      continue;
    }
    let ids = tokenizer.encode(text);
    if (filterBos) {
      const before = ids.length;
      ids = ids.filter((id) => id !== bos);
      stats.filteredBos += before - ids.length;
    }
    stats.documents++;
    stats.streamTokens += ids.length + 1;
    for (let k = -1; k < ids.length; k++) {
      const token = k < 0 ? eos : ids[k]!;
      const base = batchFilled * ctx;
      if (fill === 0 && prependBos) {
        batch[base] = bos;
        fill = 1;
        if (token === bos) {
          rowStream++; // this separator is the row's BOS
          continue;
        }
        rowInserted = 1;
      }
      batch[base + fill++] = token;
      rowStream++;
      if (fill < ctx) continue;
      stats.rows++;
      usedStream += rowStream;
      stats.insertedBos += rowInserted;
      fill = rowStream = rowInserted = 0;
      batchFilled++;
      if (stats.rows >= maxRows) {
        stats.budgetReached = true;
        break outer; // ends the source too: its readers close
      }
      if (batchFilled === batch.length / ctx) {
        const out = snapshot();
        options.onProgress?.(out);
        yield { tokens: batch, firstRow, nRows: batchFilled, stats: out, last: false };
        firstRow += batchFilled;
        batchFilled = 0;
        batch = new Uint32Array(Math.min(batchRows, maxRows - stats.rows) * ctx);
      }
    }
    const pause = breathe();
    if (pause) await pause;
  }
  const final = snapshot();
  if (final.rows === 0) {
    throw new AppError('corpus/too-small', `The corpus gave ${final.streamTokens} tokens in ${final.documents} documents (${final.emptyDocuments} empty), fewer than one row of ${ctx}. Add text, pick another column, or shorten the rows.`);
  }
  options.onProgress?.(final);
  yield { tokens: batchFilled * ctx === batch.length ? batch : batch.slice(0, batchFilled * ctx), firstRow, nRows: batchFilled, stats: final, last: true };
}

/**
 * Packs the rows into one `[nRows, ctx]` Uint32Array (grown by doubling, trimmed at the end; 10M tokens
 * are 40 MB) and shuffles them with the seed.
 */
export async function packRows(documents: AsyncIterable<string> | Iterable<string>, tokenizer: Tokenizer, options: PackRowsOptions = {}): Promise<PackedCorpus> {
  const ctx = options.ctx ?? DEFAULT_CTX;
  const shuffle = options.shuffle ?? true;
  const seed = options.seed ?? DEFAULT_SHUFFLE_SEED;
  let matrix = new Uint32Array(0);
  let nRows = 0;
  let stats: PackStats | undefined;
  for await (const batch of packRowStream(documents, tokenizer, options)) {
    const needed = (nRows + batch.nRows) * ctx;
    if (needed > matrix.length) {
      const maxRows = batch.stats.maxRows;
      const rows = Math.min(maxRows, Math.max(1024, 2 * (matrix.length / ctx), nRows + batch.nRows));
      const grown = new Uint32Array(rows * ctx);
      grown.set(matrix.subarray(0, nRows * ctx));
      matrix = grown;
    }
    matrix.set(batch.tokens, nRows * ctx);
    nRows += batch.nRows;
    stats = batch.stats;
  }
  if (matrix.length !== nRows * ctx) matrix = matrix.slice(0, nRows * ctx);
  if (shuffle) shuffleRows(matrix, ctx, seed);
  return { tokens: matrix, ctx, nRows, stats: stats!, shuffleSeed: shuffle ? seed : undefined };
}
