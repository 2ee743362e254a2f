/**
 * Which of a feature's windows (ranked strongest first) become train and test examples (delphi
 * `latents/samplers.py`). Unlike delphi, test examples are never train examples; and the quantile
 * slices cover every window (bounds floor(i * n / q)), where delphi's equal slices of floor(n / q)
 * leave out the weakest n mod q windows and are all empty below q windows, which small caches reach.
 */
import { Prng, splitmix32 } from '../../util/index.ts';
import type { RecordOptions } from './options.ts';

/** The independent random streams of one feature. */
export const STREAMS = { train: 0, test: 1, negatives: 2 } as const;

/** Share of `mix` train examples taken from the top; the rest are drawn by quantiles. */
export const MIX_TOP_SHARE = 0.2;

/**
 * The seed of one stream of one feature, from (seed, feature, stream) only: a feature's draws do not
 * depend on which other features were drawn before it, or in which order.
 */
export function featureSeed(seed: number, feature: number, stream: number): number {
  const next = splitmix32((splitmix32(seed)() ^ feature) >>> 0);
  let value = 0;
  for (let s = 0; s <= stream; s++) value = next();
  return value;
}

/**
 * Rank bounds of `nQuantiles` slices of `n` ranked windows (rank 0 the strongest): slice i is
 * [bounds[i], bounds[i + 1]). With at least a window per slice, delphi's equal slices. With fewer
 * windows than slices, some slices are empty; each window then opens the slice of the share of windows
 * stronger than it (of two windows, slices 0 and 5; one window, slice 0), so quantile 0 always holds the
 * strongest window.
 */
export function quantileBounds(n: number, nQuantiles: number): number[] {
  const round = n >= nQuantiles ? Math.floor : Math.ceil;
  return Array.from({ length: nQuantiles + 1 }, (_, i) => round((i * n) / nQuantiles));
}

/** The slice of quantileBounds(n, nQuantiles) that holds `rank`: 0 the strongest. */
export const quantileOf = (rank: number, n: number, nQuantiles: number): number =>
  n >= nQuantiles ? Math.ceil(((rank + 1) * nQuantiles) / n) - 1 : Math.floor((rank * nQuantiles) / n);

/** `count` split over `parts` as evenly as possible (4 per decile for 40). */
const shareOf = (count: number, parts: number, i: number): number => Math.floor(((i + 1) * count) / parts) - Math.floor((i * count) / parts);

/** `k` distinct entries of `pool` (all of them if it is smaller), by a partial Fisher-Yates shuffle; increasing. */
export function drawDistinct(pool: number[], k: number, prng: Prng): number[] {
  if (k >= pool.length) return pool.sort((a, b) => a - b);
  for (let j = 0; j < k; j++) {
    const r = j + prng.int(pool.length - j);
    [pool[j], pool[r]] = [pool[r]!, pool[j]!];
  }
  return pool.slice(0, k).sort((a, b) => a - b);
}

const untaken = (from: number, to: number, taken: Uint8Array): number[] => {
  const out: number[] = [];
  for (let rank = from; rank < to; rank++) if (!taken[rank]) out.push(rank);
  return out;
};

/**
 * `count` ranks drawn by quantiles: from each slice its share of `count`, among ranks not yet
 * `taken` (all of them when a slice has fewer). With `fill`, when short slices leave the count unmet
 * though other ranks are free (a feature with fewer windows than quantiles has empty slices), the
 * rest is drawn from those; without, a short slice gives what it has, as delphi's sampler does.
 * Marks what it draws as taken; increasing.
 */
export function sampleQuantiles(n: number, count: number, nQuantiles: number, prng: Prng, taken: Uint8Array, fill = false): number[] {
  const bounds = quantileBounds(n, nQuantiles);
  const out: number[] = [];
  for (let i = 0; i < nQuantiles; i++) out.push(...drawDistinct(untaken(bounds[i]!, bounds[i + 1]!, taken), shareOf(count, nQuantiles, i), prng));
  for (const rank of out) taken[rank] = 1;
  if (!fill || out.length >= count) return out;
  const rest = drawDistinct(untaken(0, n, taken), count - out.length, prng);
  for (const rank of rest) taken[rank] = 1;
  return rest.length ? [...out, ...rest].sort((a, b) => a - b) : out;
}

/** Train ranks of `n` windows in the chosen mode, increasing; marks them taken. */
export function sampleTrain(n: number, options: Pick<RecordOptions, 'nTrain' | 'trainType' | 'nQuantiles'>, prng: Prng, taken: Uint8Array, fill = false): number[] {
  const { nTrain, nQuantiles } = options;
  const top = (count: number) => {
    const ranks = untaken(0, n, taken).slice(0, count);
    for (const rank of ranks) taken[rank] = 1;
    return ranks;
  };
  switch (options.trainType) {
    case 'top':
      return top(nTrain);
    case 'random': {
      const ranks = drawDistinct(untaken(0, n, taken), nTrain, prng);
      for (const rank of ranks) taken[rank] = 1;
      return ranks;
    }
    case 'quantiles':
      return sampleQuantiles(n, nTrain, nQuantiles, prng, taken, fill);
    case 'mix': {
      const strongest = top(Math.round(nTrain * MIX_TOP_SHARE));
      return [...strongest, ...sampleQuantiles(n, nTrain - strongest.length, nQuantiles, prng, taken, fill)].sort((a, b) => a - b);
    }
  }
}

/**
 * Train and test ranks of one feature's `n` windows: train first, then test by quantiles among the
 * rest, each from its own stream of (seed, feature). A feature with fewer windows than both sets ask
 * for shares them in the same proportion (40:50 by default), drawing past empty quantile slices, so
 * that a small cache still leaves test examples to score on (two windows: one each) while train and
 * test stay disjoint.
 */
export function sampleExamples(n: number, feature: number, options: Pick<RecordOptions, 'nTrain' | 'trainType' | 'nTest' | 'nQuantiles' | 'seed'>): { train: number[]; test: number[] } {
  const wanted = options.nTrain + options.nTest;
  const nTrain = n >= wanted || wanted === 0 ? options.nTrain : Math.min(options.nTrain, Math.max(options.nTrain > 0 ? 1 : 0, Math.round((n * options.nTrain) / wanted)));
  const few = n < wanted;
  const taken = new Uint8Array(n);
  const train = sampleTrain(n, { ...options, nTrain }, new Prng(featureSeed(options.seed, feature, STREAMS.train)), taken, few);
  const test = sampleQuantiles(n, Math.min(options.nTest, n - train.length), options.nQuantiles, new Prng(featureSeed(options.seed, feature, STREAMS.test)), taken, few);
  return { train, test };
}
