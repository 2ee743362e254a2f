/**
 * Non-activating examples (delphi `latents/constructors.py`): grid windows where the feature is zero
 * throughout, drawn at random or taken where the most similar features fire. Windows are named by
 * their grid index (start = index * length).
 */
import { Prng } from '../../util/index.ts';
import type { FeatureActivations } from './reader.ts';
import { gridWindows, lowerBound } from './windows.ts';

/** Whether `window` is in the increasing list `sorted`. */
function contains(sorted: Uint32Array, window: number): boolean {
  const at = lowerBound(sorted, window);
  return at < sorted.length && sorted[at] === window;
}

/**
 * `count` distinct windows of [0, totalWindows) outside the increasing list `excluded`, uniformly
 * without replacement (Floyd's algorithm on the complement's positions, O(count log excluded), so a
 * 10M-token cache needs no list of its free windows); increasing. All of them when fewer are free.
 */
export function randomFreeWindows(excluded: Uint32Array, totalWindows: number, count: number, prng: Prng): number[] {
  const free = totalWindows - excluded.length;
  const picked = new Set<number>();
  if (count >= free) {
    for (let c = 0; c < free; c++) picked.add(c);
  } else {
    for (let j = free - count; j < free; j++) {
      const t = prng.int(j + 1);
      picked.add(picked.has(t) ? j : t);
    }
  }
  // The c-th free window is c plus the number of excluded windows before it: excluded[i] - i is
  // non-decreasing, so the count is one past the last i with excluded[i] - i <= c.
  return [...picked].sort((a, b) => a - b).map((c) => {
    let lo = 0;
    let hi = excluded.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (excluded[mid]! - mid <= c) lo = mid + 1;
      else hi = mid;
    }
    return c + lo;
  });
}

/**
 * Windows where the neighbours fire, in the order of `neighbours` (most similar first) and within a
 * neighbour strongest first, at most `perNeighbour` each, never one of `active` (the feature's own
 * windows) or one already taken, until `count`.
 */
export async function neighbourWindows(
  active: Uint32Array,
  neighbours: readonly number[],
  activationsOf: (feature: number) => Promise<FeatureActivations>,
  options: { length: number; count: number; perNeighbour: number },
): Promise<number[]> {
  const out: number[] = [];
  const taken = new Set<number>();
  for (const neighbour of neighbours) {
    if (out.length >= options.count) break;
    const { starts } = gridWindows(await activationsOf(neighbour), options.length);
    let fromThis = 0;
    for (let r = 0; r < starts.length && fromThis < options.perNeighbour && out.length < options.count; r++) {
      const window = starts[r]! / options.length;
      if (contains(active, window) || taken.has(window)) continue;
      taken.add(window);
      out.push(window);
      fromThis++;
    }
  }
  return out;
}

/** Neighbours of a feature (most similar first) and how to read their activations. */
export interface NeighbourSource {
  features: readonly number[];
  activationsOf: (feature: number) => Promise<FeatureActivations>;
}

/**
 * The feature's non-activating windows: from neighbours when given (topped up with random windows
 * when they offer fewer than `count`, where delphi falls back to random only when they offer none),
 * else random; the random draw seeded per feature.
 */
export async function nonActivatingWindows(
  active: Uint32Array,
  totalWindows: number,
  prng: Prng,
  options: { length: number; count: number; perNeighbour: number },
  neighbours?: NeighbourSource,
): Promise<number[]> {
  const fromNeighbours = neighbours ? await neighbourWindows(active, neighbours.features, neighbours.activationsOf, options) : [];
  if (fromNeighbours.length >= options.count) return fromNeighbours;
  const excluded = fromNeighbours.length ? Uint32Array.from([...active, ...fromNeighbours]).sort() : active;
  return [...fromNeighbours, ...randomFreeWindows(excluded, totalWindows, options.count - fromNeighbours.length, prng)];
}
