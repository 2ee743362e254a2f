/**
 * Moves caches between our IndexedDB layout and delphi's on-disk layout, one feature range at a time
 * so that neither side has to be in memory whole.
 */
import { AppError } from '../errors.ts';
import { createRun, type CacheDatabase, type CacheRun, type CacheSettings, finishImport, readShardChunks, writeShardRecords } from '../storage/cache-store.ts';
import { SHARD_FEATURES, type ShardRecord } from './cache-layout.ts';
import { decodeDelphiSplit, delphiConfig, type DelphiHookCache, type DelphiHookExport, type DelphiNonZeros, type DelphiSplitRange } from './delphi-format.ts';
import { float32ToFloat16Bits, float16BitsToFloat32 } from '../formats/safetensors.ts';

/** The non-zeros of features [range.start, range.end] of a stored run, as delphi's split wants them. */
export async function runNonZeros(db: CacheDatabase, run: CacheRun, range: DelphiSplitRange): Promise<DelphiNonZeros> {
  const rows: number[] = [];
  const positions: number[] = [];
  const features: number[] = [];
  const halves: number[] = [];
  const chunkTokens = run.chunkRows * run.ctx;
  for (let shard = Math.floor(range.start / SHARD_FEATURES); shard <= Math.floor(range.end / SHARD_FEATURES); shard++) {
    for (const [chunk, record] of await readShardChunks(db, run, shard)) {
      let at = 0;
      for (let local = 0; local < record.counts.length; local++) {
        const feature = shard * SHARD_FEATURES + local;
        const count = record.counts[local]!;
        if (feature >= range.start && feature <= range.end) {
          for (let i = at; i < at + count; i++) {
            const token = chunk * chunkTokens + record.tokens[i]!;
            rows.push(Math.floor(token / run.ctx));
            positions.push(token % run.ctx);
            features.push(feature);
            halves.push(record.values[i]!);
          }
        }
        at += count;
      }
    }
  }
  return { rows: Uint32Array.from(rows), positions: Uint32Array.from(positions), features: Uint32Array.from(features), values: float16BitsToFloat32(Uint16Array.from(halves)) };
}

/** Describes a stored run for `exportDelphiZip`. `tokens` is the run's whole token matrix. */
export function runExport(db: CacheDatabase, run: CacheRun, tokens: Uint32Array, nSplits = 5): DelphiHookExport {
  if (run.chunksDone < run.nChunks) throw new AppError('cache/bad-input', `This cache is not finished (${run.chunksDone} of ${run.nChunks} chunks): resume it before exporting.`);
  return {
    hook: run.settings.sae.hookName,
    config: delphiConfig({
      datasetRepo: run.settings.dataset.description,
      batchSize: run.chunkRows,
      ctx: run.ctx,
      nTokens: run.nRows * run.ctx,
      nSplits,
      modelName: run.settings.model.repo,
    }),
    width: run.width,
    tokens,
    nRows: run.nRows,
    ctx: run.ctx,
    nonZeros: (range) => runNonZeros(db, run, range),
  };
}

/**
 * Stores a delphi cache as a run: the token matrix, then shard after shard (a shard can straddle two
 * delphi splits, so one split's decoded data and one pending shard are held at a time).
 */
export async function importDelphiHook(db: CacheDatabase, id: string, hook: DelphiHookCache, vocabSize: number): Promise<CacheRun> {
  const settings: CacheSettings = {
    model: { repo: hook.config.model_name || 'unknown (delphi import)', revision: 'main', hubUrl: '' },
    sae: { label: `delphi cache ${hook.hook || hook.dir}`, fingerprint: `delphi:${hook.tokensHash}`, width: hook.width, hookName: hook.hook, architecture: 'imported' },
    dataset: { description: hook.config.dataset_repo || 'delphi import', seed: 0, ctx: hook.ctx, maxTokens: hook.nRows * hook.ctx, prependBos: false },
  };
  const tokens = Uint32Array.from(hook.tokens, (t) => {
    if (t < 0) throw new AppError('cache/bad-input', `The delphi cache has a negative token id (${t}).`);
    return t;
  });
  const run = await createRun(db, id, settings, tokens, vocabSize);
  const chunkTokens = run.chunkRows * run.ctx;
  let pending: { shard: number; features: number[]; tokens: number[]; values: number[] } | undefined;
  const flush = async () => {
    if (!pending) return;
    await writeShardRecords(db, run.id, shardRecordsByChunk(pending, run, chunkTokens));
    pending = undefined;
  };
  for (const split of hook.splits) {
    const data = await decodeDelphiSplit(split.blob, split.path, { tokens: false, nRows: hook.nRows, ctx: hook.ctx });
    // delphi sorts by (row, position, feature); we need by feature then token: sort indices once.
    const order = Array.from(data.features.keys()).sort((a, b) => data.features[a]! - data.features[b]! || data.rows[a]! - data.rows[b]! || data.positions[a]! - data.positions[b]!);
    for (const i of order) {
      const feature = data.features[i]!;
      const shard = Math.floor(feature / SHARD_FEATURES);
      if (pending && pending.shard !== shard) await flush();
      pending ??= { shard, features: [], tokens: [], values: [] };
      pending.features.push(feature);
      pending.tokens.push(data.rows[i]! * run.ctx + data.positions[i]!);
      pending.values.push(data.values[i]!);
    }
  }
  await flush();
  return finishImport(db, run.id);
}

function shardRecordsByChunk(pending: { shard: number; features: number[]; tokens: number[]; values: number[] }, run: CacheRun, chunkTokens: number): [number, ShardRecord][] {
  const width = Math.min(SHARD_FEATURES, run.width - pending.shard * SHARD_FEATURES);
  const byChunk = new Map<number, number[]>();
  pending.tokens.forEach((token, i) => {
    const chunk = Math.floor(token / chunkTokens);
    const list = byChunk.get(chunk) ?? [];
    list.push(i);
    byChunk.set(chunk, list);
  });
  const out: [number, ShardRecord][] = [];
  for (const [chunk, entries] of [...byChunk.entries()].sort((a, b) => a[0] - b[0])) {
    const counts = new Uint16Array(width);
    const tokens = new Uint16Array(entries.length);
    const values = new Uint16Array(entries.length);
    entries.forEach((i, at) => {
      counts[pending.features[i]! - pending.shard * SHARD_FEATURES]!++;
      tokens[at] = pending.tokens[i]! - chunk * chunkTokens;
      values[at] = float32ToFloat16Bits(pending.values[i]!);
    });
    out.push([chunk, { shard: pending.shard, counts, tokens, values }]);
  }
  return out;
}

