/**
 * The three cache readers agree (feature by feature and block by block), a paused run is read up to
 * its stored rows only, and statistics are stored with their run in IndexedDB (added by a versioned
 * upgrade that keeps existing caches; deleted with the run).
 */
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, test } from 'vitest';
import { errorCode } from '../../../../src/lib/errors.ts';
import { computeFeatureStats, featureRecord, idbCacheReader, type CacheReader, type FeatureBlock } from '../../../../src/lib/latents/index.ts';
import { deleteFeatureStats, deleteRun, getFeatureStats, getRun, listRuns, openCacheDb, putFeatureStats } from '../../../../src/lib/storage/index.ts';
import { collect } from '../../../support/async.ts';
import { delphiReader, idbReader, idbRun, memoryReader, randomCache } from './caches.ts';

const cache = randomCache(11, 20, 16, 2500, 0.002);

/** Every feature's (tokens, values) from a reader's blocks, checking that blocks tile the width in order. */
async function byFeature(reader: CacheReader): Promise<[number[], number[]][]> {
  const blocks: FeatureBlock[] = await collect(reader.blocks());
  expect(blocks[0]!.start).toBe(0);
  blocks.forEach((block, i) => i > 0 && expect(block.start).toBe(blocks[i - 1]!.end));
  expect(blocks.at(-1)!.end).toBe(reader.width);
  return blocks.flatMap((block) =>
    Array.from({ length: block.end - block.start }, (_, i): [number[], number[]] => {
      const [begin, end] = [block.offsets[i]!, block.offsets[i + 1]!];
      return [Array.from(block.tokens.subarray(begin, end)), Array.from(block.values.subarray(begin, end))];
    }),
  );
}

describe('readers', () => {
  test('IndexedDB (by shard) and delphi files (by split) give the arrays\' activations, tokens increasing', async () => {
    const expected = Array.from({ length: cache.width }, (_, f) => {
      const mine = cache.entries.filter((e) => e[1] === f).sort((a, b) => a[0] - b[0]);
      return [mine.map((e) => e[0]), mine.map((e) => e[2])];
    });
    for (const reader of [memoryReader(cache), await idbReader(cache, 3), await delphiReader(cache, 5)]) {
      expect(await byFeature(reader)).toEqual(expected);
      for (const f of [0, 1023, 1024, 2499]) {
        const one = await reader.feature(f);
        expect([Array.from(one.tokens), Array.from(one.values)]).toEqual(expected[f]);
      }
      expect([reader.nRows, reader.ctx, reader.width, reader.nonZeros]).toEqual([20, 16, 2500, cache.entries.length]);
      expect(Array.from(await reader.tokens())).toEqual(Array.from(cache.tokens));
    }
  });

  test('a paused run is read up to its stored rows: no windows, and no negatives, from rows not encoded yet', async () => {
    const { db, run } = await idbRun(cache, 6, 5); // rows 15-19 not encoded; chunk 2 holds a part
    expect(run.partialRows).toBe(3);
    const reader = await idbCacheReader(db, run.id);
    expect([reader.nRows, (await reader.tokens()).length]).toEqual([15, 15 * 16]);
    const record = await featureRecord(reader, 7, { exampleCtx: 8, nNonActivating: 25, minExamples: 0 });
    expect([...record.train, ...record.non_activating].every((example) => example.row < 15)).toBe(true);
    const stats = await computeFeatureStats(reader, { exampleCtx: 8 });
    expect(stats.nWindows).toBe(30);
    expect(stats.nnz.reduce((a, b) => a + b, 0)).toBe(cache.entries.filter((e) => e[0] < 15 * 16).length);
  });
});

describe('the stats store', () => {
  test('keeps a run\'s statistics with their options; deleting the run deletes them', async () => {
    const { db, run } = await idbRun(cache);
    const stats = await computeFeatureStats(await idbCacheReader(db, run), { exampleCtx: 8, bins: 5 });
    const stored = await putFeatureStats(db, run.id, stats);
    expect(stored.runId).toBe(run.id);
    const back = await getFeatureStats(db, run.id);
    expect(back).toEqual(stored);
    expect(back!.options).toEqual({ exampleCtx: 8, skipBosPosition: false, bins: 5, topTokens: 10 });
    expect(back!.histogram).toBeInstanceOf(Uint32Array);
    await deleteRun(db, run.id);
    expect(await getFeatureStats(db, run.id)).toBeUndefined();
  });

  test('refuses statistics for a run that does not exist; deletes on its own', async () => {
    const { db, run } = await idbRun(cache);
    const stats = await computeFeatureStats(await idbCacheReader(db, run), { exampleCtx: 8 });
    expect(errorCode(await putFeatureStats(db, 'nope', stats).catch((e) => e))).toBe('cache/not-found');
    await putFeatureStats(db, run.id, stats);
    await deleteFeatureStats(db, run.id);
    expect(await getFeatureStats(db, run.id)).toBeUndefined();
    expect(await getRun(db, run.id)).toBeDefined();
  });

  test('a version-1 database is upgraded in place: its caches stay, the stores of later versions are added', async () => {
    const name = 'records-upgrade-test';
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'id' });
        db.createObjectStore('tokens');
        db.createObjectStore('shards');
      },
    });
    await v1.put('runs', { id: 'old', nnz: 3 });
    await v1.put('tokens', Uint16Array.of(1, 2), ['old', 0]);
    v1.close();
    const db = await openCacheDb(name);
    expect(db.version).toBe(3);
    expect([...db.objectStoreNames].sort()).toEqual(['llmJobs', 'llmResults', 'runs', 'shards', 'stats', 'tokens']);
    expect((await listRuns(db)).map((run) => run.id)).toEqual(['old']);
    expect(await db.get('tokens', ['old', 0])).toEqual(Uint16Array.of(1, 2));
  });
});
