/**
 * The settings of the feature-records stage in one typed object, with delphi's defaults, checked
 * against the cache they are used on (a window length must divide its rows).
 */
import { AppError } from '../../errors.ts';

export type WindowKind = 'grid' | 'centred';
export type TrainType = 'quantiles' | 'top' | 'random' | 'mix';
export type NegativeSource = 'random' | 'neighbours';

export interface RecordOptions {
  /**
   * Tokens per example window (delphi's `example_ctx_len`); must divide the cache's row length. Default 32,
   * or, for rows that 32 does not divide, the longest window under 32 that does (defaultExampleCtx).
   */
  exampleCtx: number;
  /**
   * 'grid' (delphi's default): the cache cut into consecutive windows, an example is a window where the
   * feature fires. 'centred': each such window moved so that its peak stands at exampleCtx - exampleCtx/4
   * (24 of 32), context from the same row; windows that would cross the row's start or end are dropped.
   */
  windows: WindowKind;
  /**
   * Leave out activations at each row's first position (where rows start with BOS they are huge and
   * meaningless). Default: whether the cache's rows start with BOS.
   */
  skipBosPosition: boolean;
  /** Examples shown to the explainer (delphi's `n_examples_train`). Default 40. */
  nTrain: number;
  /** How they are drawn: by quantiles (default), the strongest, at random, or `mix` (the strongest fifth, the rest by quantiles). */
  trainType: TrainType;
  /** Examples shown to the scorers, by quantiles, never one of the train examples (delphi's `n_examples_test`). Default 50. */
  nTest: number;
  /** Equal slices of the windows sorted by strength (quantile 0 the strongest). Default 10. */
  nQuantiles: number;
  /** Windows where the feature is zero throughout (delphi's `n_non_activating`). Default 50. */
  nNonActivating: number;
  /** Where they come from: random windows (default), or windows where the most similar features fire. */
  negatives: NegativeSource;
  /** Windows taken from each neighbour before the next (delphi: 10). */
  perNeighbour: number;
  /** Features with fewer activating windows are not explained (delphi's `min_examples`). Default 200. */
  minExamples: number;
  /** Every draw is reproducible from this seed; each feature gets its own streams from (seed, feature). Default 22. */
  seed: number;
}

export const DEFAULT_RECORD_OPTIONS: Readonly<Omit<RecordOptions, 'skipBosPosition'>> = {
  exampleCtx: 32,
  windows: 'grid',
  nTrain: 40,
  trainType: 'quantiles',
  nTest: 50,
  nQuantiles: 10,
  nNonActivating: 50,
  negatives: 'random',
  perNeighbour: 10,
  minExamples: 200,
  seed: 22,
};

const CHOICES = {
  windows: ['grid', 'centred'],
  trainType: ['quantiles', 'top', 'random', 'mix'],
  negatives: ['random', 'neighbours'],
} as const;

const bad = (message: string): never => {
  throw new AppError('cache/bad-input', message);
};

/** delphi's 32 when it divides rows of `ctx` tokens, else the longest window under 32 that does. */
export function defaultExampleCtx(ctx: number): number {
  let length = Math.min(DEFAULT_RECORD_OPTIONS.exampleCtx, ctx);
  while (length > 1 && ctx % length !== 0) length--;
  return length;
}

/** The defaults completed with `given`, checked against a cache with rows of `ctx` tokens. */
export function recordOptions(given: Partial<RecordOptions>, cache: { ctx: number; prependBos: boolean }): RecordOptions {
  const options: RecordOptions = { ...DEFAULT_RECORD_OPTIONS, exampleCtx: defaultExampleCtx(cache.ctx), skipBosPosition: cache.prependBos, ...definedOnly(given) };
  const counts = ['nTrain', 'nTest', 'nNonActivating', 'perNeighbour', 'minExamples'] as const;
  for (const key of counts) {
    if (!Number.isSafeInteger(options[key]) || options[key] < 0) bad(`${key} must be a whole number of 0 or more, got ${options[key]}.`);
  }
  if (!Number.isSafeInteger(options.nQuantiles) || options.nQuantiles < 1) bad(`nQuantiles must be a whole number of 1 or more, got ${options.nQuantiles}.`);
  if (!Number.isSafeInteger(options.seed)) bad(`The seed must be a whole number, got ${options.seed}.`);
  const L = options.exampleCtx;
  if (!Number.isSafeInteger(L) || L < 1 || cache.ctx % L !== 0) {
    const divisors = Array.from({ length: cache.ctx }, (_, i) => i + 1).filter((d) => cache.ctx % d === 0 && d >= 4);
    bad(`The example window (exampleCtx ${L}) must divide the cache's rows of ${cache.ctx} tokens, so that no window crosses a row; try one of ${divisors.join(', ') || cache.ctx}.`);
  }
  for (const key of Object.keys(CHOICES) as (keyof typeof CHOICES)[]) {
    if (!(CHOICES[key] as readonly string[]).includes(options[key])) bad(`${key} must be one of ${CHOICES[key].join(', ')}, got "${options[key]}".`);
  }
  return options;
}

/** A partial object without its undefined fields, so that `{ seed: undefined }` keeps the default. */
function definedOnly<T extends object>(given: T): Partial<T> {
  return Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as Partial<T>;
}
