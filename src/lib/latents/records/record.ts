/**
 * One feature's record (delphi's `LatentRecord`, in the JSON shape other tools read): its windows
 * sorted by strength, train and test examples drawn from them, and non-activating examples. Built on
 * demand for one feature, or for every feature block after block (each block read once).
 */
import { AppError } from '../../errors.ts';
import { eventLoopBreather, monotonic, Prng, throwIfAborted, type ProgressCallback } from '../../util/index.ts';
import { nonActivatingWindows, type NeighbourSource } from './negatives.ts';
import { normalizeActivations } from './normalize.ts';
import { recordOptions, type RecordOptions } from './options.ts';
import { featureOf, withoutRowStarts, type CacheReader, type FeatureActivations, type TokenMatrix } from './reader.ts';
import { featureSeed, quantileOf, sampleExamples, STREAMS } from './samplers.ts';
import { activeGridWindows, featureWindows, tokensIn, valuesIn, type FeatureWindows } from './windows.ts';

/** One window as the explainer and scorers see it. */
export interface Example {
  row: number;
  /** Position of the window's first token in its row. */
  start: number;
  tokens: number[];
  /** This feature's value on each token (0 where it is not active). */
  activations: number[];
  /** The same on the 0..10 scale (normalize.ts). */
  normalized: number[];
  /** Quantile of the window among the feature's windows, 0 the strongest; -1 for non-activating windows. */
  quantile: number;
}

/** The record other tools read, one JSON object per feature: exactly these keys. */
export interface FeatureRecord {
  feature: number;
  hook: string;
  /** Activations of the feature (row starts left out when they are skipped). */
  n_activations: number;
  /** Its activating windows (of the chosen kind). */
  n_windows: number;
  max_activation: number;
  train: Example[];
  test: Example[];
  non_activating: Example[];
}

/** A feature's neighbours, most similar first (e.g. from cosineNeighbours or jaccardNeighbours), for neighbour negatives. */
export type NeighbourLookup = (feature: number) => readonly number[] | Promise<readonly number[]>;

/** One feature ready for sampling: its activations as counted, its windows, its max. */
export interface PreparedFeature {
  feature: number;
  activations: FeatureActivations;
  windows: FeatureWindows;
  /** Largest activation over all its windows' tokens (the normalization's max); 0 when it never fires. */
  max: number;
}

/** What a record is built from besides the feature itself. */
export interface RecordSource {
  hook: string;
  nRows: number;
  ctx: number;
  tokens: TokenMatrix;
  /** Another feature's activations, row starts left out as for this one (for neighbour negatives). */
  activationsOf: (feature: number) => Promise<FeatureActivations>;
  neighbours?: NeighbourLookup;
}

export function prepareFeature(feature: number, raw: FeatureActivations, options: RecordOptions, ctx: number): PreparedFeature {
  const activations = options.skipBosPosition ? withoutRowStarts(raw, ctx) : raw;
  let max = activations.values.length ? -Infinity : 0;
  for (const value of activations.values) if (value > max) max = value;
  return { feature, activations, windows: featureWindows(activations, options.windows, options.exampleCtx, ctx), max };
}

/** The window of `length` tokens from global token `start` as an Example. */
export function exampleAt(prepared: PreparedFeature, tokens: TokenMatrix, ctx: number, start: number, length: number, quantile: number): Example {
  const values = valuesIn(prepared.activations, start, length);
  const activations = new Array<number>(length);
  for (let i = 0; i < length; i++) activations[i] = values[i]!;
  return {
    row: Math.floor(start / ctx),
    start: start % ctx,
    tokens: tokensIn(tokens, start, length),
    activations,
    normalized: normalizeActivations(activations, prepared.max),
    quantile,
  };
}

export async function buildRecord(prepared: PreparedFeature, source: RecordSource, options: RecordOptions): Promise<FeatureRecord> {
  const { feature, windows } = prepared;
  const L = options.exampleCtx;
  const n = windows.starts.length;
  const { train, test } = sampleExamples(n, feature, options);
  const example = (rank: number) => exampleAt(prepared, source.tokens, source.ctx, windows.starts[rank]!, L, quantileOf(rank, n, options.nQuantiles));
  let neighbours: NeighbourSource | undefined;
  if (options.negatives === 'neighbours') {
    if (!source.neighbours) throw new AppError('cache/bad-input', 'Neighbour negatives need a neighbour list (decoder or encoder cosine from the SAE, or co-occurrence from the cache); none was given.');
    neighbours = { features: (await source.neighbours(feature)).filter((f) => f !== feature), activationsOf: source.activationsOf };
  }
  const negatives = await nonActivatingWindows(
    activeGridWindows(prepared.activations, L),
    (source.nRows * source.ctx) / L,
    new Prng(featureSeed(options.seed, feature, STREAMS.negatives)),
    { length: L, count: options.nNonActivating, perNeighbour: options.perNeighbour },
    neighbours,
  );
  return {
    feature,
    hook: source.hook,
    n_activations: prepared.activations.tokens.length,
    n_windows: n,
    max_activation: prepared.max,
    train: train.map(example),
    test: test.map(example),
    non_activating: negatives.map((window) => exampleAt(prepared, source.tokens, source.ctx, window * L, L, -1)),
  };
}

/** The source of records over `reader` (the token matrix read once). */
export async function recordSource(reader: CacheReader, options: RecordOptions, neighbours?: NeighbourLookup): Promise<RecordSource> {
  const ctx = reader.ctx;
  return {
    hook: reader.hook,
    nRows: reader.nRows,
    ctx,
    tokens: await reader.tokens(),
    activationsOf: async (f) => (options.skipBosPosition ? withoutRowStarts(await reader.feature(f), ctx) : reader.feature(f)),
    ...(neighbours ? { neighbours } : {}),
  };
}

/** One feature read and prepared, after checking that the cache has it. */
export async function readPrepared(reader: CacheReader, feature: number, options: RecordOptions): Promise<PreparedFeature> {
  if (!Number.isSafeInteger(feature) || feature < 0 || feature >= reader.width) throw new AppError('cache/bad-input', `Feature ${feature} is outside this cache's ${reader.width} features.`);
  return prepareFeature(feature, await reader.feature(feature), options, reader.ctx);
}

/** One feature's record, whatever its number of windows (the page shows any feature). */
export async function featureRecord(reader: CacheReader, feature: number, given: Partial<RecordOptions> = {}, neighbours?: NeighbourLookup): Promise<FeatureRecord> {
  const options = recordOptions(given, reader);
  return buildRecord(await readPrepared(reader, feature, options), await recordSource(reader, options, neighbours), options);
}

export interface RecordsControl {
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  neighbours?: NeighbourLookup;
}

/**
 * Builds the record of every feature with at least `minExamples` windows, block after block, and
 * hands each to `visit` (awaited, so a slow writer holds the pass back rather than piling records up).
 */
export async function forEachFeatureRecord(
  reader: CacheReader,
  given: Partial<RecordOptions>,
  visit: (record: FeatureRecord) => void | Promise<void>,
  control: RecordsControl = {},
): Promise<{ built: number; skipped: number }> {
  const options = recordOptions(given, reader);
  const source = await recordSource(reader, options, control.neighbours);
  const progress = monotonic(control.onProgress);
  const breathe = eventLoopBreather();
  let built = 0;
  for await (const block of reader.blocks(control.signal)) {
    for (let f = block.start; f < block.end; f++) {
      const prepared = prepareFeature(f, featureOf(block, f), options, reader.ctx);
      if (prepared.windows.starts.length === 0 || prepared.windows.starts.length < options.minExamples) continue;
      await visit(await buildRecord(prepared, source, options));
      built++;
      await breathe();
      throwIfAborted(control.signal, 'Building feature records');
    }
    progress({ stage: 'records', done: block.end, total: reader.width, text: `Feature records: ${block.end} of ${reader.width} features read, ${built} built` });
  }
  return { built, skipped: reader.width - built };
}
