/**
 * `npm run records -- --cache <folder> --out <dir>`
 *
 * Feature records without a browser: reads a delphi cache (a folder holding one hook folder or several,
 * each with `config.json` and `<start>_<end>.safetensors` splits; or a zip of them) and writes one JSON
 * file per feature, `<out>/<hook>/latent<f>.json`, the FeatureRecord the app builds (src/lib/latents/
 * records): `{ feature, hook, n_activations, n_windows, max_activation, train, test, non_activating }`,
 * each example `{ row, start, tokens, activations, normalized, quantile }`. Files are opened as Blobs
 * (`fs.openAsBlob`), so a multi-GB split is read in slices, one split at a time. Options:
 *   --features 0-99,130  (only these; each one with at least one activating window gets a record)
 *   --seed 22  --example-ctx 32  --train 40  --test 50  --quantiles 10  --non-activating 50
 *   --train-type quantiles|top|random|mix  --negatives random|neighbours  --windows grid|centred
 *   --min-examples 200  (without --features: features with fewer activating windows get no record)
 *   --skip-bos | --keep-bos  (leave out or keep each row's first position; default keep, as delphi's
 *     config does not say whether rows start with BOS)
 *   --hook layers.6  (only these hook folders, comma-separated)
 * Exit codes: 0 done, 1 a cache that cannot be read, 2 bad usage, 130 stopped by Ctrl-C, 143 by SIGTERM.
 */
import { openAsBlob, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { checkOutFolder, commandMain, folderEntries, runIfEntry, UsageError, type CliIo } from './cli.ts';
import {
  delphiCacheReader,
  DEFAULT_RECORD_OPTIONS,
  featureRecord,
  forEachFeatureRecord,
  jaccardNeighbours,
  minHashSketches,
  readDelphiFolder,
  readDelphiZip,
  recordOptions,
  type CacheReader,
  type DelphiHookCache,
  type DelphiInputFile,
  type FeatureRecord,
  type NeighbourLookup,
  type NegativeSource,
  type RecordOptions,
  type TrainType,
  throwIfAborted,
  type WindowKind,
} from '../src/lib/index.ts';

const USAGE = 'Usage: npm run records -- --cache <delphi cache folder> --out <dir> [--features 0-99,130] [--seed 22] [--example-ctx 32] [--train 40] [--test 50] [--quantiles 10] [--non-activating 50] [--train-type quantiles|top|random|mix] [--negatives random|neighbours] [--windows grid|centred] [--min-examples 200] [--skip-bos | --keep-bos] [--hook <name,...>]';

/** MinHash sketch size for co-occurrence neighbours (similarity.ts: standard error about sqrt(J(1-J)/64)). */
const SKETCH_SIZE = 64;

/** Bad usage: exit code 2, the message and the usage line. */
/** An inclusive range of feature ids. */
export type FeatureRange = readonly [first: number, last: number];

/** "0-99,130" as ranges, in the order given; throws UsageError naming --features. */
export function parseFeatures(text: string): FeatureRange[] {
  const ranges: FeatureRange[] = [];
  for (const item of text.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(item);
    const first = match ? Number(match[1]) : NaN;
    const last = match?.[2] !== undefined ? Number(match[2]) : first;
    if (!match || !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) {
      throw new UsageError(`--features: "${item.trim()}" is not a feature number or a range first-last with first <= last (e.g. --features 0-99,130).`);
    }
    ranges.push([first, last]);
  }
  return ranges;
}

/** The features of `ranges`, increasing, each once; throws UsageError for one at or past `width`. */
export function expandFeatures(ranges: readonly FeatureRange[], width: number, hook: string): number[] {
  const outside = ranges.find(([, last]) => last >= width);
  if (outside) {
    const named = outside[0] === outside[1] ? `feature ${outside[1]}` : `range ${outside[0]}-${outside[1]}`;
    throw new UsageError(`--features: ${named} is outside ${hook}'s ${width} features (0-${width - 1}).`);
  }
  const chosen = new Uint8Array(width);
  for (const [first, last] of ranges) chosen.fill(1, first, last + 1);
  const out: number[] = [];
  for (let f = 0; f < width; f++) if (chosen[f]) out.push(f);
  return out;
}

function wholeNumber(flag: string, text: string, min = 0): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError(`--${flag}: "${text}" is not a whole number of ${min} or more.`);
  return value;
}

function choice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`--${flag}: "${text}" is not one of ${choices.join(', ')}.`);
  return text as T;
}

export interface CliOptions {
  cache: string;
  out: string;
  features?: FeatureRange[];
  hooks?: string[];
  /** Everything but skipBosPosition when neither --skip-bos nor --keep-bos was given. */
  records: Omit<RecordOptions, 'skipBosPosition'> & { skipBosPosition?: boolean };
  /** Whether --min-examples was given (it is ignored with --features, which says so). */
  minExamplesGiven: boolean;
}

/** The command line checked and completed with delphi's defaults; throws UsageError. */
export function parseCli(argv: readonly string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        cache: { type: 'string' }, out: { type: 'string' }, features: { type: 'string' }, hook: { type: 'string' },
        seed: { type: 'string' }, 'example-ctx': { type: 'string' }, train: { type: 'string' }, test: { type: 'string' },
        quantiles: { type: 'string' }, 'non-activating': { type: 'string' }, 'train-type': { type: 'string' },
        negatives: { type: 'string' }, windows: { type: 'string' }, 'min-examples': { type: 'string' },
        'skip-bos': { type: 'boolean' }, 'keep-bos': { type: 'boolean' },
      },
    }));
  } catch (error) {
    // node:util's messages ("Unknown option '--x'. To specify a positional argument ...") cut to their first sentence.
    const message = (error as Error).message;
    const dashed = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
    if (dashed) throw new UsageError(`${dashed[1]}: a value that starts with "-" must be written ${dashed[1]}=<value>.`);
    throw new UsageError(`${message.split('\n')[0]!.split('. ')[0]!.replace(/\.$/, '')}.`);
  }
  for (const required of ['cache', 'out'] as const) if (!values[required]) throw new UsageError(`Missing --${required}.`);
  if (values['skip-bos'] && values['keep-bos']) throw new UsageError('--skip-bos and --keep-bos contradict each other; give one.');
  const d = DEFAULT_RECORD_OPTIONS;
  const seedText = values.seed ?? String(d.seed);
  const seed = /^-?\d+$/.test(seedText.trim()) ? Number(seedText) : NaN;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed: "${seedText}" is not a whole number.`);
  const number = (flag: string, fallback: number, min = 0) => (values[flag as keyof typeof values] === undefined ? fallback : wholeNumber(flag, values[flag as keyof typeof values] as string, min));
  const skip = values['skip-bos'] ? true : values['keep-bos'] ? false : undefined;
  return {
    cache: values.cache!,
    out: values.out!,
    ...(values.features !== undefined ? { features: parseFeatures(values.features) } : {}),
    ...(values.hook !== undefined ? { hooks: values.hook.split(',').map((h) => h.trim()).filter(Boolean) } : {}),
    records: {
      ...d,
      seed,
      exampleCtx: number('example-ctx', d.exampleCtx, 1),
      nTrain: number('train', d.nTrain),
      nTest: number('test', d.nTest),
      nQuantiles: number('quantiles', d.nQuantiles, 1),
      nNonActivating: number('non-activating', d.nNonActivating),
      minExamples: number('min-examples', d.minExamples),
      trainType: choice<TrainType>('train-type', values['train-type'] ?? d.trainType, ['quantiles', 'top', 'random', 'mix']),
      negatives: choice<NegativeSource>('negatives', values.negatives ?? d.negatives, ['random', 'neighbours']),
      windows: choice<WindowKind>('windows', values.windows ?? d.windows, ['grid', 'centred']),
      ...(skip === undefined ? {} : { skipBosPosition: skip }),
    },
    minExamplesGiven: values['min-examples'] !== undefined,
  };
}

/** The files under `folder` as readDelphiFolder's inputs (opened lazily, nothing read yet): paths start with the folder's own name, so a hook folder given directly keeps its name. */
async function inputFiles(folder: string): Promise<DelphiInputFile[]> {
  const parent = dirname(folder);
  const walk = (dir: string): string[] =>
    folderEntries(dir).flatMap((entry) => {
      if (entry.isDirectory) return walk(entry.path);
      return entry.isFile ? [entry.path] : [];
    });
  return Promise.all(walk(folder).map(async (path) => ({ path: relative(parent, path).split(sep).join('/'), blob: (await openAsBlob(path)) as Blob })));
}

/** The delphi hook caches at `path` (a folder or a zip), checked from headers. */
async function openCache(path: string, signal?: AbortSignal): Promise<DelphiHookCache[]> {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`--cache: ${path} does not exist.`);
  const options = signal ? { signal } : {};
  if (stat.isFile()) {
    if (!path.toLowerCase().endsWith('.zip')) throw new UsageError(`--cache: ${path} is a file; give the folder that holds the delphi hook folders (or a zip of it).`);
    return readDelphiZip((await openAsBlob(path)) as Blob, options);
  }
  try {
    return await readDelphiFolder(await inputFiles(path), options);
  } catch (error) {
    // The message says what to do in the page ("Drop the cache folder"); here the folder comes from --cache.
    if (error instanceof Error) error.message = error.message.replace('Drop the cache folder (or its parent).', `Point --cache at the cache folder (or its parent); ${path} is not one.`);
    throw error;
  }
}

/** Co-occurrence neighbours from MinHash sketches of the cache (no SAE weights here for decoder cosine). */
async function cooccurrenceNeighbours(reader: CacheReader, options: RecordOptions, io: CliIo): Promise<NeighbourLookup> {
  const sketches = await minHashSketches(reader, { exampleCtx: options.exampleCtx, skipBosPosition: options.skipBosPosition, sketchSize: SKETCH_SIZE, seed: options.seed }, {
    ...(io.signal ? { signal: io.signal } : {}),
    onProgress: (p) => io.info(`  ${p.text}`),
  });
  const k = neighbourCount(options);
  return (feature) => jaccardNeighbours(sketches, feature, k).map((n) => n.feature);
}

/** Enough neighbours to fill the non-activating examples at perNeighbour each, and at least delphi's 10. */
const neighbourCount = (options: RecordOptions): number => Math.max(10, Math.ceil(options.nNonActivating / Math.max(1, options.perNeighbour)));

/** Why a feature has no activating window, as far as the options tell. */
const noWindows = (options: RecordOptions): string =>
  `no activating windows (never active${options.skipBosPosition ? ' once row starts are left out' : ''}${options.windows === 'centred' ? ', or only too near a row\'s start or end for a centred window' : ''})`;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

const list = (features: readonly number[], max = 12): string => (features.length > max ? `${features.slice(0, max).join(', ')}, … (${features.length} in all)` : features.join(', '));

/** Records written so far over all hooks (reported when Ctrl-C stops a run). */
interface Tally {
  written: number;
  skipped: number;
}

/** One hook's reader, options and features, checked before any hook is written. */
interface HookPlan {
  hook: DelphiHookCache;
  reader: CacheReader;
  options: RecordOptions;
  features: number[] | undefined;
}

function planHook(hook: DelphiHookCache, cli: CliOptions): HookPlan {
  const given = cli.records;
  const reader = delphiCacheReader(hook); // delphi's config does not say whether rows start with BOS: kept unless --skip-bos
  const { ctx } = reader;
  if (ctx % given.exampleCtx !== 0) {
    const divisors = Array.from({ length: ctx }, (_, i) => i + 1).filter((d) => ctx % d === 0 && d >= 4);
    throw new UsageError(`--example-ctx: windows of ${given.exampleCtx} tokens do not divide ${hook.hook}'s rows of ${ctx} tokens; try one of ${divisors.join(', ') || ctx}.`);
  }
  return { hook, reader, options: recordOptions(given, reader), features: cli.features ? expandFeatures(cli.features, reader.width, hook.hook) : undefined };
}

async function recordsOfHook({ hook, reader, options, features }: HookPlan, cli: CliOptions, io: CliIo, tally: Tally): Promise<void> {
  const { nRows, ctx, width } = reader;
  io.log(`${hook.hook}: ${width} features, ${nRows} rows x ${ctx} tokens, ${hook.nonZeros} activations (${hook.dir})`);
  for (const warning of hook.warnings) io.info(`  warning: ${warning}`);
  if (cli.records.skipBosPosition === undefined) {
    const tokens = await reader.tokens();
    const first = tokens[0];
    let same = nRows > 1;
    for (let r = 1; same && r < nRows; r++) same = tokens[r * ctx] === first;
    if (same) io.info(`  note: every row starts with token ${first} (BOS?); its activations are kept. Pass --skip-bos to leave each row's first position out.`);
  }
  const neighbours = options.negatives === 'neighbours' ? await cooccurrenceNeighbours(reader, options, io) : undefined;
  if (neighbours) {
    io.log(`  negatives: windows where each feature's ${neighbourCount(options)} most similar features fire (${options.perNeighbour} per neighbour), topped up at random;`);
    io.log(`  similarity: co-occurrence, the Jaccard index of activating windows of ${options.exampleCtx} tokens estimated from MinHash sketches of ${SKETCH_SIZE} hashes per feature (no SAE weights here for decoder cosine)`);
  }
  const dir = join(cli.out, hook.hook);
  await mkdir(dir, { recursive: true });
  const write = async (record: FeatureRecord) => {
    await writeFile(join(dir, `latent${record.feature}.json`), JSON.stringify(record));
    tally.written++;
  };

  if (features) {
    const never: number[] = [];
    let written = 0;
    for (const feature of features) {
      throwIfAborted(io.signal, 'Building feature records');
      const record = await featureRecord(reader, feature, options, neighbours);
      if (record.n_windows === 0) {
        never.push(feature);
        continue;
      }
      await write(record);
      written++;
    }
    tally.skipped += never.length;
    io.log(`  wrote ${plural(written, 'record')} to ${dir}`);
    if (never.length) io.log(`  skipped ${never.length}: ${noWindows(options)}: ${list(never)}`);
    return;
  }

  const { built, skipped } = await forEachFeatureRecord(reader, options, write, {
    ...(io.signal ? { signal: io.signal } : {}),
    ...(neighbours ? { neighbours } : {}),
    onProgress: (p) => io.info(`  ${p.text}`),
  });
  tally.skipped += skipped;
  io.log(`  wrote ${plural(built, 'record')} to ${dir}`);
  if (skipped && options.minExamples > 1) {
    io.log(`  skipped ${skipped}: fewer than ${options.minExamples} activating windows; lower --min-examples (e.g. --min-examples ${Math.max(1, Math.floor(options.minExamples / 10))}) to write more`);
  } else if (skipped) {
    io.log(`  skipped ${skipped}: ${noWindows(options)}`);
  }
}

/** Runs the command; returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = { log: (line) => console.log(line), info: (line) => console.error(line) }): Promise<number> {
  const tally: Tally = { written: 0, skipped: 0 };
  return commandMain(io, USAGE, async () => {
    const cli = parseCli(argv);
    checkOutFolder(cli.out);
    const started = performance.now();
    let hooks = await openCache(resolve(cli.cache), io.signal);
    if (cli.hooks) {
      const missing = cli.hooks.filter((name) => !hooks.some((hook) => hook.hook === name));
      if (missing.length) throw new UsageError(`--hook: ${missing.join(', ')} not found; the cache has ${hooks.map((hook) => hook.hook).join(', ')}.`);
      hooks = hooks.filter((hook) => cli.hooks!.includes(hook.hook));
    }
    const names = new Map<string, string>();
    for (const hook of hooks) {
      const other = names.get(hook.hook);
      if (other !== undefined) throw new UsageError(`--cache: two hook folders are named ${hook.hook} (${other} and ${hook.dir}), and both would write to <out>/${hook.hook}; point --cache at one of them.`);
      names.set(hook.hook, hook.dir);
    }
    const plans = hooks.map((hook) => planHook(hook, cli));
    const r = cli.records;
    io.log(`records of ${plural(hooks.length, 'hook')} (${hooks.map((hook) => hook.hook).join(', ')}): train ${r.nTrain} (${r.trainType}), test ${r.nTest}, non-activating ${r.nNonActivating} (${r.negatives}), ${r.nQuantiles} quantiles, ${r.windows} windows of ${r.exampleCtx}, seed ${r.seed}${cli.features ? '' : `, at least ${r.minExamples} activating windows`}`);
    if (cli.features && cli.minExamplesGiven) io.info('note: --min-examples is ignored with --features: every named feature with an activating window gets a record.');
    for (const plan of plans) await recordsOfHook(plan, cli, io, tally);
    io.log(`done: ${plural(tally.written, 'record')} written, ${plural(tally.skipped, 'feature')} skipped, ${plural(hooks.length, 'hook')}, ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${resolve(cli.out)}`);
    return 0;
  }, (by) => `stopped: ${tally.written} records written before ${by}; each file is whole.`);
}

// Ctrl-C stops after the record in hand (files already written stay whole); a second one quits at once.
void runIfEntry(import.meta.url, 'stopping after the record in hand (Ctrl-C again to quit at once)…', main);
