/**
 * How storage failures reach the user: the browser's quota error becomes one that says nothing was lost,
 * named errors pass through, anything else is named in a `storage/failed` message. The end-to-end part
 * runs the real IndexedDB code on an in-memory IndexedDB (fake-indexeddb).
 */
import 'fake-indexeddb/auto';
import { describe, expect, test } from 'vitest';
import { AppError, errorCode } from '../../../src/lib/errors.ts';
import { createRun, getRun, openCacheDb, storageError, writeChunk, type CacheSettings } from '../../../src/lib/storage/index.ts';
import { failure } from '../../support/async.ts';

/** What storageError throws for `error`. */
function mapped(error: unknown): unknown {
  try {
    storageError(error);
  } catch (thrown) {
    return thrown;
  }
  throw new Error('storageError returned');
}

describe('storageError', () => {
  test.each([
    ['a DOMException named QuotaExceededError', new DOMException('Encountered full disk while saving.', 'QuotaExceededError')],
    ['a plain object named QuotaExceededError', { name: 'QuotaExceededError' }],
    ['an error whose message mentions the quota', new Error('Disk QUOTA reached for this origin')],
  ])('%s becomes storage/quota, saying that nothing saved was lost', (_, error) => {
    const result = mapped(error);
    expect(result).toBeInstanceOf(AppError);
    expect(errorCode(result)).toBe('storage/quota');
    expect((result as Error).message).toMatch(/ran out of storage/);
    expect((result as Error).message).toMatch(/saved so far is intact/);
  });

  test('an AppError passes through unchanged', () => {
    const original = new AppError('cache/not-found', 'There is no cache "x" in this browser.');
    expect(mapped(original)).toBe(original);
  });

  // A named error whose message happens to contain the word (a cache id such as "quota-run") stays what it is.
  test('an AppError passes through unchanged even when its message mentions a quota', () => {
    const original = new AppError('cache/not-found', 'There is no cache "quota-run" in this browser.');
    expect(mapped(original)).toBe(original);
  });

  test('any other error becomes storage/failed naming the error and its message', () => {
    const result = mapped(new DOMException('The transaction was aborted.', 'AbortError')) as AppError;
    expect(result).toBeInstanceOf(AppError);
    expect(result.code).toBe('storage/failed');
    expect(result.message).toContain('AbortError: The transaction was aborted.');
    expect(result.message).toMatch(/saved before is intact/);
  });

  test.each([
    ['an event with no name or message', new Event('error')],
    ['null', null],
    ['a string', 'broken'],
  ])('%s becomes storage/failed for an unknown error', (_, error) => {
    const result = mapped(error) as AppError;
    expect(result.code).toBe('storage/failed');
    expect(result.message).toContain('(unknown error)');
  });
});

describe('writeChunk', () => {
  const CTX = 4;
  const settings: CacheSettings = {
    model: { repo: 'test/model', revision: 'main', hubUrl: '' },
    sae: { label: 'test', fingerprint: 'f', width: 10, hookName: 'blocks.0.hook_resid_pre', architecture: 'topk', k: 1 },
    dataset: { description: 'unit', seed: 0, ctx: CTX, maxTokens: 3 * 2 * CTX, prependBos: false },
  };

  test('refuses a chunk out of order with cache/bad-input and stores nothing for it', async () => {
    const db = await openCacheDb('storage-errors-test');
    const tokens = Uint32Array.from({ length: 3 * 2 * CTX }, (_, i) => i % 50);
    await createRun(db, 'run', settings, tokens, 50, 2); // three chunks of two rows
    const skipped = await failure(() => writeChunk(db, 'run', 1, []));
    expect(errorCode(skipped)).toBe('cache/bad-input');
    expect(skipped.message).toBe('Chunk 1 arrived but the cache expects chunk 0.');
    expect((await getRun(db, 'run')).chunksDone).toBe(0);

    expect((await writeChunk(db, 'run', 0, [])).chunksDone).toBe(1);
    const repeated = await failure(() => writeChunk(db, 'run', 0, []));
    expect(errorCode(repeated)).toBe('cache/bad-input');
    expect((await getRun(db, 'run')).chunksDone).toBe(1);
    db.close();
  });
});
