/**
 * What a feature page shows besides the record: the windows in quantile groups (the slices the
 * samplers draw from) and equal-width activation intervals, each with a few examples.
 */
import { activationIntervals, type ActivationInterval, type IntervalOptions } from './intervals.ts';
import { recordOptions, type RecordOptions } from './options.ts';
import type { CacheReader, TokenMatrix } from './reader.ts';
import { buildRecord, exampleAt, readPrepared, recordSource, type Example, type FeatureRecord, type NeighbourLookup, type PreparedFeature } from './record.ts';
import { quantileBounds, quantileOf } from './samplers.ts';

export interface QuantileGroup {
  /** 0 the strongest. */
  quantile: number;
  /** Ranks [fromRank, toRank) of the windows, strongest first. */
  fromRank: number;
  toRank: number;
  /** The strongest and weakest window max in the group (0 when it is empty). */
  highest: number;
  lowest: number;
  /** Up to `perGroup` windows spread over the group, strongest first. */
  examples: Example[];
}

export interface FeaturePage {
  record: FeatureRecord;
  /** The strongest windows, strongest first (the record's train set is drawn over all quantiles). */
  top: Example[];
  quantiles: QuantileGroup[];
  intervals: (ActivationInterval & { examples: Example[] })[];
}

/** `take` ranks spread evenly over [from, to). */
const spread = (from: number, to: number, take: number): number[] => {
  const m = to - from;
  const k = Math.min(take, m);
  return Array.from({ length: k }, (_, j) => from + Math.floor((j * m) / k));
};

export function quantileGroups(prepared: PreparedFeature, tokens: TokenMatrix, ctx: number, options: Pick<RecordOptions, 'nQuantiles' | 'exampleCtx'>, perGroup = 5): QuantileGroup[] {
  const { starts, maxes } = prepared.windows;
  const bounds = quantileBounds(starts.length, options.nQuantiles);
  return Array.from({ length: options.nQuantiles }, (_, quantile) => {
    const fromRank = bounds[quantile]!;
    const toRank = bounds[quantile + 1]!;
    const empty = toRank === fromRank;
    return {
      quantile,
      fromRank,
      toRank,
      highest: empty ? 0 : maxes[fromRank]!,
      lowest: empty ? 0 : maxes[toRank - 1]!,
      examples: spread(fromRank, toRank, perGroup).map((rank) => exampleAt(prepared, tokens, ctx, starts[rank]!, options.exampleCtx, quantile)),
    };
  });
}

/** A feature's record, quantile groups and activation intervals, read once. */
export async function featurePage(
  reader: CacheReader,
  feature: number,
  given: Partial<RecordOptions> = {},
  page: { perGroup?: number; top?: number; neighbours?: NeighbourLookup } & IntervalOptions = {},
): Promise<FeaturePage> {
  const options = recordOptions(given, reader);
  const prepared = await readPrepared(reader, feature, options);
  const source = await recordSource(reader, options, page.neighbours);
  const record = await buildRecord(prepared, source, options);
  const n = prepared.windows.starts.length;
  const intervals = activationIntervals(prepared.activations, prepared.windows, prepared.max, page).map((interval) => ({
    ...interval,
    examples: interval.windowRanks.map((rank) => exampleAt(prepared, source.tokens, reader.ctx, prepared.windows.starts[rank]!, options.exampleCtx, quantileOf(rank, n, options.nQuantiles))),
  }));
  const top = spread(0, Math.min(n, page.top ?? 10), page.top ?? 10).map((rank) => exampleAt(prepared, source.tokens, reader.ctx, prepared.windows.starts[rank]!, options.exampleCtx, quantileOf(rank, n, options.nQuantiles)));
  return { record, top, quantiles: quantileGroups(prepared, source.tokens, reader.ctx, options, page.perGroup), intervals };
}
