/**
 * What a feature is scored on: its test examples (activating) and as many non-activating examples
 * (the record's, at most as many as test examples unless told otherwise). Draws are seeded from
 * (seed, feature) with streams of their own, so a feature's order and marks do not depend on other
 * features or on the order they run in.
 */
import { featureSeed, type Example, type FeatureRecord } from '../latents/index.ts';
import { Prng } from '../util/index.ts';
import type { ScoreSettings } from './contract.ts';

/** Streams of a feature's scoring draws (the record's own use 0 to 2). */
export const SCORE_STREAMS = { order: 3, marks: 4 } as const;

export const DEFAULT_SCORE_SEED = 22;

export interface Sample {
  example: Example;
  activating: boolean;
  /** Quantile; -1 for non-activating. */
  distance: number;
}

/** Test examples, then non-activating ones, in the record's order. */
export function scoreSamples(record: FeatureRecord, settings: Pick<ScoreSettings, 'maxNonActivating'>): Sample[] {
  const negatives = record.non_activating.slice(0, settings.maxNonActivating ?? record.test.length);
  return [
    ...record.test.map((example) => ({ example, activating: true, distance: example.quantile })),
    ...negatives.map((example) => ({ example, activating: false, distance: -1 })),
  ];
}

/** A generator for one stream of one feature's scoring. */
export const streamPrng = (seed: number, feature: number, stream: number): Prng => new Prng(featureSeed(seed, feature, stream));

/** A shuffled copy (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], prng: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
