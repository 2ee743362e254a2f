import { describe, expect, test } from 'vitest';
import { SerialQueue } from '../../../src/lib/util/index.ts';
import { failure } from '../../support/async.ts';

/** A promise and the function that settles it, for tasks the test finishes by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('SerialQueue', () => {
  test('tasks started together run one at a time, in the order they were queued', async () => {
    const queue = new SerialQueue();
    const events: string[] = [];
    let running = 0;
    let most = 0;
    const task = (name: string, delayMs: number) => async () => {
      running++;
      most = Math.max(most, running);
      events.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      events.push(`end ${name}`);
      running--;
      return name;
    };
    // The first task is the slowest: a queue that let the next start early would interleave them.
    const results = await Promise.all([queue.run(task('a', 30)), queue.run(task('b', 1)), queue.run(task('c', 10))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(most).toBe(1);
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  test('a task does not start until the one before it has settled', async () => {
    const queue = new SerialQueue();
    const first = gate();
    let secondStarted = false;
    const done = queue.run(() => first.promise);
    const second = queue.run(async () => { secondStarted = true; });
    for (let i = 0; i < 5; i++) await tick();
    expect(secondStarted).toBe(false);
    first.open();
    await Promise.all([done, second]);
    expect(secondStarted).toBe(true);
  });

  test('a failing task rejects its own caller only, and the next task still runs', async () => {
    const queue = new SerialQueue();
    const order: string[] = [];
    const failing = queue.run(async () => {
      order.push('failing');
      throw new Error('session crashed');
    });
    const next = queue.run(async () => {
      order.push('next');
      return 42;
    });
    expect((await failure(() => failing)).message).toBe('session crashed');
    expect(await next).toBe(42);
    expect(order).toEqual(['failing', 'next']);
    // The queue keeps working after the failure.
    expect(await queue.run(async () => 'later')).toBe('later');
  });

  test('a task that throws synchronously rejects its caller and does not stop the queue', async () => {
    const queue = new SerialQueue();
    const thrown = queue.run((() => { throw new Error('bad input'); }) as () => Promise<never>);
    const after = queue.run(async () => 'after');
    expect((await failure(() => thrown)).message).toBe('bad input');
    expect(await after).toBe('after');
  });
});
