/**
 * A cache run in IndexedDB read for records: a feature through its shard, all features shard after
 * shard (each shard's records of every chunk regrouped into one block). Only stored rows count, so
 * records of a paused run never take rows that were not encoded yet for windows without activations.
 */
import { float16Table } from '../../formats/index.ts';
import { getRun, readFeature, readRunTokens, readShardChunks, SHARD_FEATURES, shardCount, storedTokens, type CacheDatabase, type CacheRun, type ShardRecord } from '../../storage/index.ts';
import { throwIfAborted } from '../../util/index.ts';
import type { CacheReader, FeatureBlock, TokenMatrix } from './reader.ts';

export async function idbCacheReader(db: CacheDatabase, runOrId: CacheRun | string): Promise<CacheReader> {
  const run = typeof runOrId === 'string' ? await getRun(db, runOrId) : runOrId;
  const nRows = storedTokens(run) / run.ctx;
  let matrix: Promise<TokenMatrix> | undefined;
  return {
    hook: run.settings.sae.hookName,
    nRows,
    ctx: run.ctx,
    width: run.width,
    prependBos: run.settings.dataset.prependBos,
    nonZeros: run.nnz,
    tokens: () => (matrix ??= readRunTokens(db, run).then((all) => all.subarray(0, nRows * run.ctx))),
    feature: (feature) => readFeature(db, run, feature),
    async *blocks(signal) {
      for (let shard = 0; shard < shardCount(run.width); shard++) {
        throwIfAborted(signal, 'Reading the cache');
        yield shardBlock(await readShardChunks(db, run, shard), shard, run);
      }
    },
  };
}

/** One shard's records of every chunk (in chunk order) as one block: per feature, chunk after chunk. */
export function shardBlock(records: readonly [number, ShardRecord][], shard: number, run: Pick<CacheRun, 'width' | 'chunkRows' | 'ctx'>): FeatureBlock {
  const start = shard * SHARD_FEATURES;
  const n = Math.min(SHARD_FEATURES, run.width - start);
  const offsets = new Uint32Array(n + 1);
  for (const [, record] of records) for (let f = 0; f < n; f++) offsets[f + 1]! += record.counts[f]!;
  for (let f = 0; f < n; f++) offsets[f + 1]! += offsets[f]!;
  const tokens = new Uint32Array(offsets[n]!);
  const values = new Float32Array(offsets[n]!);
  const cursor = offsets.slice(0, n);
  const half = float16Table();
  for (const [chunk, record] of records) {
    const base = chunk * run.chunkRows * run.ctx;
    let from = 0;
    for (let f = 0; f < n; f++) {
      const count = record.counts[f]!;
      let at = cursor[f]!;
      for (let j = from; j < from + count; j++, at++) {
        tokens[at] = base + record.tokens[j]!;
        values[at] = half[record.values[j]!]!;
      }
      cursor[f] = at;
      from += count;
    }
  }
  return { start, end: start + n, offsets, tokens, values };
}
