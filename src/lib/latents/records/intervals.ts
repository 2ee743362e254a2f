/**
 * Equal-width activation intervals for the feature page: (0, max] cut into equal parts, each with the
 * share of the feature's activations that fall in it and a few windows whose strongest activation
 * does, from the weak end of the feature to its peak (the top examples show only the peak).
 */
import type { FeatureActivations } from './reader.ts';
import { histogramBin } from './stats.ts';
import type { FeatureWindows } from './windows.ts';

export interface ActivationInterval {
  /** The interval is [low, high); the last one also holds the max. */
  low: number;
  high: number;
  /** Activations (tokens) in the interval, and their share of all the feature's activations. */
  count: number;
  share: number;
  /** Ranks in the windows (strongest first) of up to `perInterval` windows whose max is in the interval, spread over them. */
  windowRanks: number[];
}

export interface IntervalOptions {
  /** Default 10. */
  intervals?: number;
  /** Default 3. */
  perInterval?: number;
}

/** Intervals of [0, max] (bin as in the statistics' histogram: negatives in the first). */
export function activationIntervals(activations: FeatureActivations, windows: FeatureWindows, max: number, options: IntervalOptions = {}): ActivationInterval[] {
  const n = options.intervals ?? 10;
  const per = options.perInterval ?? 3;
  const counts = new Uint32Array(n);
  for (const value of activations.values) counts[histogramBin(value, max, n)]!++;
  const firstRank = new Int32Array(n).fill(-1);
  const windowCounts = new Uint32Array(n);
  // Windows are sorted by max, descending: each interval's windows are one run of ranks.
  windows.maxes.forEach((value, rank) => {
    const i = histogramBin(value, max, n);
    if (firstRank[i] === -1) firstRank[i] = rank;
    windowCounts[i]!++;
  });
  const total = activations.values.length;
  return Array.from({ length: n }, (_, i) => {
    const m = windowCounts[i]!;
    const take = Math.min(per, m);
    return {
      low: (i * max) / n,
      high: ((i + 1) * max) / n,
      count: counts[i]!,
      share: total ? counts[i]! / total : 0,
      windowRanks: Array.from({ length: take }, (_, j) => firstRank[i]! + Math.floor((j * m) / take)),
    };
  });
}
