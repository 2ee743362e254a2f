/**
 * Moves caches between our IndexedDB layout and delphi's on-disk layout, one feature range at a time
 * so that neither side has to be in memory whole.
 */
import { AppError } from '../errors.ts';
import { float32ToFloat16Bits } from '../formats/index.ts';
import { createRun, finishImport, listRuns, readRunTokens, readShardChunks, SHARD_FEATURES, writeShardRecords, type CacheDatabase, type CacheRun, type CacheSettings, type ShardRecord } from '../storage/index.ts';
import { decodeDelphiSplit, delphiConfig, hashTokens, type DelphiHookCache, type DelphiHookExport, type DelphiNonZerosInput, type DelphiSplitRange } from './delphi/index.ts';

/**
 * The non-zeros of features [range.start, range.end] of a stored run, as delphi's split wants them
 * (values as the stored float16 bits). Typed arrays throughout: a split of a 10M-token cache holds
 * tens of millions of non-zeros.
 */
export async function runNonZeros(db: CacheDatabase, run: CacheRun, range: DelphiSplitRange): Promise<DelphiNonZerosInput> {
  const chunkTokens = run.chunkRows * run.ctx;
  const parts: { chunk: number; record: ShardRecord; begin: number; end: number; first: number }[] = [];
  let total = 0;
  for (let shard = Math.floor(range.start / SHARD_FEATURES); shard <= Math.floor(range.end / SHARD_FEATURES); shard++) {
    const first = shard * SHARD_FEATURES;
    const lo = Math.max(range.start, first) - first;
    const hi = Math.min(range.end, first + SHARD_FEATURES - 1) - first;
    for (const [chunk, record] of await readShardChunks(db, run, shard)) {
      let begin = 0;
      for (let local = 0; local < lo; local++) begin += record.counts[local]!;
      let end = begin;
      for (let local = lo; local <= hi && local < record.counts.length; local++) end += record.counts[local]!;
      if (end > begin) parts.push({ chunk, record, begin, end, first: first + lo });
      total += end - begin;
    }
  }
  const rows = new Uint32Array(total);
  const positions = new Uint32Array(total);
  const features = new Uint32Array(total);
  const values = new Uint16Array(total);
  let at = 0;
  for (const { chunk, record, begin, end, first } of parts) {
    const base = chunk * chunkTokens;
    let feature = first;
    let left = record.counts[feature - record.shard * SHARD_FEATURES]!;
    for (let i = begin; i < end; i++, at++) {
      while (left === 0) left = record.counts[++feature - record.shard * SHARD_FEATURES]!;
      left--;
      const token = base + record.tokens[i]!;
      rows[at] = Math.floor(token / run.ctx);
      positions[at] = token % run.ctx;
      features[at] = feature;
      values[at] = record.values[i]!;
    }
  }
  return { rows, positions, features, values };
}

/** Describes a stored run for `exportDelphiZip`. `tokens` is the run's whole token matrix. */
export function runExport(db: CacheDatabase, run: CacheRun, tokens: Uint32Array, nSplits = 5): DelphiHookExport {
  if (run.chunksDone < run.nChunks) throw new AppError('cache/bad-input', `This cache is not finished (${run.chunksDone} of ${run.nChunks} chunks): resume it before exporting.`);
  return {
    hook: run.settings.sae.hookName,
    config: delphiConfig({
      ...(run.settings.dataset.source
        ? { datasetRepo: run.settings.dataset.source.repo, datasetSplit: run.settings.dataset.source.split, datasetName: run.settings.dataset.source.name, datasetColumn: run.settings.dataset.source.column }
        : { datasetRepo: run.settings.dataset.description }),
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
 * A finished cache in this browser holding exactly this delphi cache (same hook, shape, non-zero count
 * and token matrix), whether imported before or made here and exported: importing it again would only
 * add a copy.
 */
/**
 * A stored cache made with the same settings (model, SAE, corpus, seed, row length, token budget) from
 * the same token rows, done or resumable: what a new cache of them would repeat. Undefined when none.
 */
export async function findSameSettings(db: CacheDatabase, settings: CacheSettings, tokens: Uint32Array, ctx: number): Promise<CacheRun | undefined> {
  const wanted = JSON.stringify(settings);
  const hash = hashTokens(tokens);
  for (const run of await listRuns(db)) {
    if (run.status === 'failed' || run.ctx !== ctx || run.nRows * run.ctx !== tokens.length || JSON.stringify(run.settings) !== wanted) continue;
    if (hashTokens(await readRunTokens(db, run)) === hash) return run;
  }
  return undefined;
}

export async function findSameCache(db: CacheDatabase, hook: DelphiHookCache): Promise<CacheRun | undefined> {
  for (const run of await listRuns(db)) {
    const same = run.status === 'done' && run.settings.sae.hookName === hook.hook && run.width === hook.width && run.nRows === hook.nRows && run.ctx === hook.ctx && run.nnz === hook.nonZeros;
    if (same && hashTokens(await readRunTokens(db, run)) === hook.tokensHash) return run;
  }
  return undefined;
}

/** Entries of one shard gathered from one or two splits: feature-major, token-increasing within a feature. */
interface ShardEntries {
  shard: number;
  parts: { features: Uint32Array; tokens: Uint32Array; values: Uint16Array }[];
}

/**
 * Stores a delphi cache as a run: the token matrix, then shard after shard (a shard can straddle two
 * delphi splits, so one split's decoded data and one pending shard are held at a time). Counting sorts
 * on typed arrays, as a split of a large cache holds tens of millions of non-zeros.
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
  let pending: ShardEntries | undefined;
  const flush = async () => {
    if (!pending) return;
    await writeShardRecords(db, run.id, shardRecordsByChunk(pending, run, chunkTokens));
    pending = undefined;
  };
  for (const split of hook.splits) {
    const data = await decodeDelphiSplit(split.blob, split.path, { tokens: false, nRows: hook.nRows, ctx: hook.ctx });
    // delphi's order is (row, position, feature); a stable counting sort by feature keeps tokens increasing.
    const order = stableOrderBy(data.features, split.start, split.end - split.start + 1);
    for (let i = 0; i < order.length; ) {
      const shard = Math.floor(data.features[order[i]!]! / SHARD_FEATURES);
      let j = i;
      while (j < order.length && Math.floor(data.features[order[j]!]! / SHARD_FEATURES) === shard) j++;
      if (pending && pending.shard !== shard) await flush();
      pending ??= { shard, parts: [] };
      const picked = order.subarray(i, j);
      pending.parts.push({
        features: Uint32Array.from(picked, (k) => data.features[k]!),
        tokens: Uint32Array.from(picked, (k) => data.rows[k]! * run.ctx + data.positions[k]!),
        values: Uint16Array.from(picked, (k) => float32ToFloat16Bits(data.values[k]!)),
      });
      i = j;
    }
  }
  await flush();
  return finishImport(db, run.id);
}

/** The permutation that orders `keys` (each in [offset, offset + size)) increasingly, stable. */
function stableOrderBy(keys: Uint32Array, offset: number, size: number): Uint32Array {
  const starts = new Uint32Array(size + 1);
  for (let i = 0; i < keys.length; i++) starts[keys[i]! - offset + 1]!++;
  for (let k = 0; k < size; k++) starts[k + 1]! += starts[k]!;
  const order = new Uint32Array(keys.length);
  for (let i = 0; i < keys.length; i++) order[starts[keys[i]! - offset]!++] = i;
  return order;
}

function shardRecordsByChunk(pending: ShardEntries, run: CacheRun, chunkTokens: number): [number, ShardRecord][] {
  const first = pending.shard * SHARD_FEATURES;
  const width = Math.min(SHARD_FEATURES, run.width - first);
  const concat = <T extends Uint32Array | Uint16Array>(pick: (part: ShardEntries['parts'][number]) => T, make: (n: number) => T): T => {
    const out = make(pending.parts.reduce((n, part) => n + pick(part).length, 0));
    let at = 0;
    for (const part of pending.parts) {
      out.set(pick(part), at);
      at += pick(part).length;
    }
    return out;
  };
  // Parts come from successive splits over increasing features, so the concatenation is feature-major.
  const features = concat((p) => p.features, (n) => new Uint32Array(n));
  const tokens = concat((p) => p.tokens, (n) => new Uint32Array(n));
  const values = concat((p) => p.values, (n) => new Uint16Array(n));
  const chunks = new Uint32Array(tokens.length);
  let nChunks = 0;
  for (let i = 0; i < tokens.length; i++) nChunks = Math.max(nChunks, (chunks[i] = Math.floor(tokens[i]! / chunkTokens)) + 1);
  // Stable by chunk: inside a chunk the entries stay feature-major with increasing tokens.
  const order = stableOrderBy(chunks, 0, nChunks);
  const out: [number, ShardRecord][] = [];
  for (let i = 0; i < order.length; ) {
    const chunk = chunks[order[i]!]!;
    let j = i;
    while (j < order.length && chunks[order[j]!] === chunk) j++;
    const counts = new Uint16Array(width);
    const recordTokens = new Uint16Array(j - i);
    const recordValues = new Uint16Array(j - i);
    for (let at = 0; at < j - i; at++) {
      const k = order[i + at]!;
      counts[features[k]! - first]!++;
      recordTokens[at] = tokens[k]! - chunk * chunkTokens;
      recordValues[at] = values[k]!;
    }
    out.push([chunk, { shard: pending.shard, counts, tokens: recordTokens, values: recordValues }]);
    i = j;
  }
  return out;
}
