/**
 * How cached activations are laid out: by chunk of token rows, and inside a chunk by shard of features.
 *
 * The engine hands over activations token by token (CSR); the next stage reads them feature by feature.
 * So each chunk (fewer than 65536 tokens, so a token's place in the chunk fits 16 bits) is stored as one
 * record per shard of `SHARD_FEATURES` features, sorted by feature: how many activations each feature
 * has in the chunk, then their token positions (uint16) and values (float16). Reading a feature touches
 * only its shard's records. Per non-zero that is 4 bytes, plus 2 bytes per feature per chunk for the
 * counts and 2 bytes per token for the token matrix (vocabularies up to 65536), amortised to well under
 * one byte per non-zero at GPT-2 densities.
 */
import { float32ToFloat16Bits } from '../formats/index.ts';
import type { SparseActivations } from '../types.ts';

export const SHARD_FEATURES = 1024;
/** Below 2^16, so both a token's index in its chunk and a feature's count per chunk fit in uint16. */
export const MAX_CHUNK_TOKENS = 65535;

/** One shard of one chunk. */
export interface ShardRecord {
  shard: number;
  /** Activations per feature of the shard in this chunk (SHARD_FEATURES, fewer in a last partial shard). */
  counts: Uint16Array;
  /** Token index within the chunk, grouped by feature in order, increasing within a feature. */
  tokens: Uint16Array;
  /** float16 bits, aligned with `tokens`. */
  values: Uint16Array;
}

export const shardCount = (width: number): number => Math.ceil(width / SHARD_FEATURES);

/** Rows per chunk: as many as fit in MAX_CHUNK_TOKENS tokens. */
export const chunkRowsFor = (ctx: number): number => Math.max(1, Math.floor(MAX_CHUNK_TOKENS / ctx));

/**
 * Regroups a chunk's token-major activations by feature. `firstToken`: where in the chunk the first
 * token stands, for a part of a chunk (the rows a pause left stored), so positions stay chunk-relative.
 */
export function chunkToShards(sparse: SparseActivations, width: number, firstToken = 0): ShardRecord[] {
  if (firstToken + sparse.tokens > MAX_CHUNK_TOKENS) throw new Error(`a chunk holds at most ${MAX_CHUNK_TOKENS} tokens, got ${firstToken + sparse.tokens}`);
  const shards = shardCount(width);
  const perFeature = new Uint32Array(shards * SHARD_FEATURES);
  for (let i = 0; i < sparse.features.length; i++) perFeature[sparse.features[i]!]!++;
  const starts = new Uint32Array(perFeature.length + 1);
  for (let f = 0; f < perFeature.length; f++) starts[f + 1] = starts[f]! + perFeature[f]!;
  const cursor = starts.slice(0, perFeature.length);
  const tokens = new Uint16Array(sparse.features.length);
  const values = new Uint16Array(sparse.features.length);
  // Tokens are visited in order, so each feature's tokens come out increasing.
  for (let t = 0; t < sparse.tokens; t++) {
    for (let i = sparse.offsets[t]!; i < sparse.offsets[t + 1]!; i++) {
      const at = cursor[sparse.features[i]!]!++;
      tokens[at] = firstToken + t;
      values[at] = float32ToFloat16Bits(sparse.values[i]!);
    }
  }
  const records: ShardRecord[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const first = shard * SHARD_FEATURES;
    const begin = starts[first]!;
    const end = starts[first + SHARD_FEATURES]!;
    const counts = new Uint16Array(Math.min(SHARD_FEATURES, width - first));
    for (let f = 0; f < counts.length; f++) counts[f] = perFeature[first + f]!;
    // slice(), not subarray(): IndexedDB would store a view's whole underlying buffer.
    records.push({ shard, counts, tokens: tokens.slice(begin, end), values: values.slice(begin, end) });
  }
  return records;
}

/**
 * One shard's record of a chunk whose parts were stored apart: per feature the tokens of `a` (the part
 * stored first), then those of `b`. Merging the parts of a chunk in order gives exactly the record of the
 * whole chunk, so a paused and resumed run stores the same bytes as an uninterrupted one.
 */
export function mergeShardRecords(a: ShardRecord, b: ShardRecord): ShardRecord {
  if (a.shard !== b.shard || a.counts.length !== b.counts.length) throw new Error(`cannot merge shard ${b.shard} (${b.counts.length} features) into shard ${a.shard} (${a.counts.length} features)`);
  // Parts are successive token ranges of the chunk: every token of `b` comes after every token of `a`.
  let lastOfA = -1;
  let firstOfB = Infinity;
  for (const t of a.tokens) lastOfA = Math.max(lastOfA, t);
  for (const t of b.tokens) firstOfB = Math.min(firstOfB, t);
  if (firstOfB <= lastOfA) throw new Error(`shard ${a.shard}: the later part starts at token ${firstOfB}, not after the earlier part's last token ${lastOfA}`);
  const counts = new Uint16Array(a.counts.length);
  const tokens = new Uint16Array(a.tokens.length + b.tokens.length);
  const values = new Uint16Array(tokens.length);
  let at = 0;
  let inA = 0;
  let inB = 0;
  for (let f = 0; f < counts.length; f++) {
    const fromA = a.counts[f]!;
    const fromB = b.counts[f]!;
    counts[f] = fromA + fromB;
    tokens.set(a.tokens.subarray(inA, inA + fromA), at);
    values.set(a.values.subarray(inA, inA + fromA), at);
    tokens.set(b.tokens.subarray(inB, inB + fromB), at + fromA);
    values.set(b.values.subarray(inB, inB + fromB), at + fromA);
    at += fromA + fromB;
    inA += fromA;
    inB += fromB;
  }
  return { shard: a.shard, counts, tokens, values };
}

/** One feature's activations within a shard record: token indices (in the chunk) and float16 bits. */
export function featureInShard(record: ShardRecord, feature: number): { tokens: Uint16Array; values: Uint16Array } {
  const local = feature - record.shard * SHARD_FEATURES;
  let begin = 0;
  for (let f = 0; f < local; f++) begin += record.counts[f]!;
  const end = begin + record.counts[local]!;
  return { tokens: record.tokens.subarray(begin, end), values: record.values.subarray(begin, end) };
}

/** Bytes a shard record occupies as stored (typed array payloads). */
export const recordBytes = (record: ShardRecord): number => record.counts.byteLength + record.tokens.byteLength + record.values.byteLength;
