/**
 * The pool: never more than `concurrency` tasks in flight, slots refilled as tasks end, items pulled
 * lazily, a throwing task stops new starts (in-flight tasks aborted or let finish), cancellation.
 */
import { describe, expect, test } from 'vitest';
import { AppError, errorCode } from '../../../src/lib/errors.ts';
import { runPool } from '../../../src/lib/pipeline/index.ts';
import { failure } from '../../support/async.ts';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new AppError('cancelled', 'aborted'));
    });
  });

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('runPool', () => {
  test.each([1, 3, 8])('concurrency %i: never more in flight, and the limit is reached', async (limit) => {
    let inFlight = 0;
    const seen: number[] = [];
    const report = await runPool(
      range(25),
      async (i) => {
        seen.push(++inFlight);
        await sleep(2 + (i % 5));
        inFlight--;
      },
      { concurrency: limit },
    );
    expect(Math.max(...seen)).toBe(limit);
    expect(report).toMatchObject({ concurrency: limit, started: 25, finished: 25, maxInFlight: limit });
  });

  test('items are pulled only when a slot is free (an async source is not read ahead)', async () => {
    const log: string[] = [];
    async function* source() {
      for (const i of range(6)) {
        log.push(`pull ${i}`);
        yield i;
      }
    }
    await runPool(
      source(),
      async (i) => {
        log.push(`start ${i}`);
        await sleep(5);
        log.push(`end ${i}`);
      },
      { concurrency: 2 },
    );
    // The third item is pulled only after one of the first two ended.
    expect(log.indexOf('pull 2')).toBeGreaterThan(Math.min(log.indexOf('end 0'), log.indexOf('end 1')));
    expect(log.filter((l) => l.startsWith('end'))).toHaveLength(6);
  });

  test('a throwing task stops new starts and aborts the tasks in flight', async () => {
    const started: number[] = [];
    const aborted: number[] = [];
    const boom = new AppError('llm/unauthorized', 'bad key');
    const report = await runPool(
      range(50),
      async (i, signal) => {
        started.push(i);
        if (i === 5) throw boom;
        await sleep(30, signal).catch((error) => {
          aborted.push(i);
          throw error;
        });
      },
      { concurrency: 4 },
    );
    expect(report.error).toBe(boom);
    expect(started.length).toBeLessThan(10);
    expect(aborted.length).toBe(3);
  });

  test('with abortOnError false the tasks in flight finish', async () => {
    const finished: number[] = [];
    const report = await runPool(
      range(20),
      async (i) => {
        if (i === 2) throw new AppError('llm/budget', 'spent');
        await sleep(10);
        finished.push(i);
      },
      { concurrency: 3, abortOnError: () => false },
    );
    expect(errorCode(report.error)).toBe('llm/budget');
    expect(finished.sort((a, b) => a - b)).toEqual([0, 1]);
  });

  test('a source that fails stops the pool with its error', async () => {
    async function* source() {
      yield 1;
      throw new Error('reader broke');
    }
    const report = await runPool(source(), async () => sleep(1), { concurrency: 2 });
    expect(String(report.error)).toMatch(/reader broke/);
    expect(report.finished).toBe(1);
  });

  test('cancelling: tasks in flight see the abort, nothing new starts, the pool throws cancelled', async () => {
    const controller = new AbortController();
    let started = 0;
    setTimeout(() => controller.abort(), 20);
    const error = await failure(() => runPool(range(100), async (_, signal) => void (started++, await sleep(15, signal)), { concurrency: 4, signal: controller.signal }));
    expect(errorCode(error)).toBe('cancelled');
    expect(started).toBeLessThanOrEqual(8);
  });

  test('utilization: busy time over concurrency x wall time', async () => {
    let clock = 0;
    const report = await runPool(range(4), async () => void (clock += 10), { concurrency: 2, now: () => clock });
    expect(report.busyMs).toBe(40);
    expect(report.wallMs).toBe(40);
    expect(report.utilization).toBe(0.5);
  });

  test('a bad limit is refused', async () => {
    expect(errorCode(await failure(() => runPool([1], async () => {}, { concurrency: 0 })))).toBe('pipeline/bad-options');
  });
});
