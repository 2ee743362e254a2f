/**
 * `npm run records` (scripts/records-cli.ts): the records it writes from a delphi cache on disk are the
 * ones featureRecord builds, in the exact JSON shape other tools read; flags, feature selection, seeds,
 * neighbour negatives and errors. Run in-process through `main` (quick), and once as a spawned command.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expandFeatures, main, parseFeatures } from '../../../scripts/records-cli.ts';
import {
  delphiCacheReader,
  delphiConfig,
  delphiFiles,
  delphiNonZerosOf,
  featureRecord,
  jaccardNeighbours,
  minHashSketches,
  readDelphiFolder,
  syntheticTokens,
  syntheticTopK,
  ZipWriter,
  type CacheReader,
  type FeatureRecord,
  type RecordOptions,
} from '../../../src/lib/index.ts';

const ROOT = join(import.meta.dirname, '../../..');
const TINY = join(ROOT, 'test/fixtures/delphi/tiny');
const expected = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/delphi/expected.json'), 'utf8')) as {
  width: number;
  hooks: Record<string, { activations: { row: number; position: number; feature: number; value: number }[] }>;
};

const RECORD_KEYS = ['feature', 'hook', 'n_activations', 'n_windows', 'max_activation', 'train', 'test', 'non_activating'];
const EXAMPLE_KEYS = ['row', 'start', 'tokens', 'activations', 'normalized', 'quantile'];

let scratch: string;
/** A synthetic delphi cache with enough windows per feature for real draws: 64 rows x 32 tokens, 48 features, k 4. */
let synthetic: string;
const SYN = { nRows: 64, ctx: 32, width: 48, k: 4 };

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'records-cli-'));
  synthetic = join(scratch, 'synthetic');
  const nTokens = SYN.nRows * SYN.ctx;
  const sparse = syntheticTopK(nTokens, SYN.k, SYN.width, 7);
  const tokens = syntheticTokens(nTokens, 50257, 8);
  const hook = {
    hook: 'blocks.3.hook_resid_post',
    config: delphiConfig({ modelName: 'openai-community/gpt2', ctx: SYN.ctx, nTokens, nSplits: 3 }),
    width: SYN.width,
    tokens,
    nRows: SYN.nRows,
    ctx: SYN.ctx,
    nonZeros: (range: { start: number; end: number }) => delphiNonZerosOf(sparse, SYN.ctx, range),
  };
  for await (const file of delphiFiles(hook)) {
    mkdirSync(dirname(join(synthetic, file.path)), { recursive: true });
    writeFileSync(join(synthetic, file.path), file.bytes);
  }
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let outCount = 0;
const freshDir = () => join(scratch, `out-${outCount++}`);

/** Runs the command in-process; stdout and stderr lines captured. */
async function run(args: string[], signal?: AbortSignal): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { log: (line) => out.push(line), info: (line) => err.push(line), ...(signal ? { signal } : {}) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The files written under `dir`, relative, '/'-separated, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => statSync(join(dir, path)).isFile())
    .map((path) => path.split(sep).join('/'))
    .sort();
}

const readRecord = (dir: string, hook: string, feature: number): FeatureRecord => JSON.parse(readFileSync(join(dir, hook, `latent${feature}.json`), 'utf8')) as FeatureRecord;

/** Readers of a folder read the way a test reads fixtures (whole files), to compare with the CLI's lazy Blobs. */
async function readersOf(folder: string): Promise<Map<string, CacheReader>> {
  const paths = readdirSync(folder, { recursive: true, encoding: 'utf8' }).filter((path) => statSync(join(folder, path)).isFile());
  const files = paths.map((path) => ({ path: `cache/${path.split(sep).join('/')}`, blob: new Blob([readFileSync(join(folder, path))]) }));
  return new Map((await readDelphiFolder(files)).map((hook) => [hook.hook, delphiCacheReader(hook)]));
}

const activeFeatures = (hook: string): number[] => [...new Set(expected.hooks[hook]!.activations.map((a) => a.feature))].sort((a, b) => a - b);
const windowKey = (e: { row: number; start: number }) => `${e.row}:${e.start}`;

describe('npm run records on the delphi fixture', () => {
  test('spawned as a command: one file per active feature and hook, each the record featureRecord builds, keys in order', async () => {
    const out = freshDir();
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/records-cli.ts', '--cache', TINY, '--out', out, '--example-ctx', '4', '--min-examples', '1', '--non-activating', '3'], { cwd: ROOT });
    expect(stdout).toMatch(/done: 15 records written/);
    const hooks = ['layers.2', 'layers.5'];
    expect(filesUnder(out)).toEqual(hooks.flatMap((hook) => activeFeatures(hook).map((f) => `${hook}/latent${f}.json`)).sort());
    const readers = await readersOf(TINY);
    for (const hook of hooks) {
      for (const feature of activeFeatures(hook)) {
        const text = readFileSync(join(out, hook, `latent${feature}.json`), 'utf8');
        const record = JSON.parse(text) as FeatureRecord;
        expect(Object.keys(record)).toEqual(RECORD_KEYS);
        for (const example of [...record.train, ...record.test, ...record.non_activating]) expect(Object.keys(example)).toEqual(EXAMPLE_KEYS);
        const direct = await featureRecord(readers.get(hook)!, feature, { exampleCtx: 4, nNonActivating: 3 });
        expect(text).toBe(JSON.stringify(direct));
        expect(record.hook).toBe(hook);
        expect(record.n_activations).toBe(expected.hooks[hook]!.activations.filter((a) => a.feature === feature).length);
      }
    }
  }, 60_000);

  test('spawned with a bad flag: exit code 2 and a line naming the flag', async () => {
    const failed = await promisify(execFile)('npx', ['tsx', 'scripts/records-cli.ts', '--cache', TINY, '--out', freshDir(), '--quantiles', 'ten'], { cwd: ROOT }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(/--quantiles: "ten" is not a whole number of 1 or more\./);
  }, 60_000);

  test('a hook folder given directly keeps its name', async () => {
    const out = freshDir();
    const { code } = await run(['--cache', join(TINY, 'layers.5'), '--out', out, '--example-ctx', '8', '--min-examples', '1']);
    expect(code).toBe(0);
    expect(filesUnder(out)).toEqual(activeFeatures('layers.5').map((f) => `layers.5/latent${f}.json`).sort());
  });

  test('a zip of the cache gives the same files as the folder', async () => {
    const zip = new ZipWriter();
    for (const path of filesUnder(TINY)) await zip.add(`tiny/${path}`, readFileSync(join(TINY, path)));
    const archive = join(scratch, 'tiny.zip');
    writeFileSync(archive, new Uint8Array(await zip.finish().arrayBuffer()));
    const [fromZip, fromFolder] = [freshDir(), freshDir()];
    expect((await run(['--cache', archive, '--out', fromZip, '--example-ctx', '4', '--min-examples', '1'])).code).toBe(0);
    expect((await run(['--cache', TINY, '--out', fromFolder, '--example-ctx', '4', '--min-examples', '1'])).code).toBe(0);
    expect(filesUnder(fromZip)).toHaveLength(15);
    expect(filesUnder(fromZip)).toEqual(filesUnder(fromFolder));
    for (const file of filesUnder(fromZip)) expect(readFileSync(join(fromZip, file), 'utf8')).toBe(readFileSync(join(fromFolder, file), 'utf8'));
  });

  test('by default (min-examples 200) nothing qualifies, and the summary says why and what to lower', async () => {
    const out = freshDir();
    const { code, out: stdout } = await run(['--cache', TINY, '--out', out, '--example-ctx', '4']);
    expect(code).toBe(0);
    expect(filesUnder(out)).toEqual([]);
    expect(stdout).toMatch(/skipped 40: fewer than 200 activating windows; lower --min-examples/);
    expect(stdout).toMatch(/done: 0 records written, 80 features skipped, 2 hooks/);
  });

  test('--features: named features with an activating window get a record whatever --min-examples says; the others are reported', async () => {
    const out = freshDir();
    const { code, out: stdout, err } = await run(['--cache', TINY, '--out', out, '--example-ctx', '4', '--features', '12-14,0,39', '--min-examples', '500']);
    expect(code).toBe(0);
    expect(err).toMatch(/--min-examples is ignored with --features/);
    const wanted = [0, 12, 13, 14, 39];
    expect(filesUnder(out)).toEqual(['layers.2', 'layers.5'].flatMap((hook) => wanted.filter((f) => activeFeatures(hook).includes(f)).map((f) => `${hook}/latent${f}.json`)).sort());
    expect(stdout).toMatch(/layers\.2[\s\S]*skipped 1: no activating windows \(never active\): 14/);
    expect(stdout).toMatch(/layers\.5[\s\S]*skipped 2: no activating windows \(never active\): 0, 12/);
  });

  test('--skip-bos leaves row starts out (the records featureRecord builds with skipBosPosition)', async () => {
    const out = freshDir();
    const { code, out: stdout } = await run(['--cache', TINY, '--out', out, '--example-ctx', '8', '--features', '0-39', '--skip-bos', '--hook', 'layers.2']);
    expect(code).toBe(0);
    const reader = (await readersOf(TINY)).get('layers.2')!;
    const kept = [...new Set(expected.hooks['layers.2']!.activations.filter((a) => a.position !== 0).map((a) => a.feature))].sort((a, b) => a - b);
    expect(filesUnder(out)).toEqual(kept.map((f) => `layers.2/latent${f}.json`).sort());
    expect(stdout).toMatch(/never active once row starts are left out/);
    for (const feature of kept) expect(readRecord(out, 'layers.2', feature)).toEqual(JSON.parse(JSON.stringify(await featureRecord(reader, feature, { exampleCtx: 8, skipBosPosition: true }))));
  });
});

describe('npm run records on a cache with many windows per feature', () => {
  const base = ['--example-ctx', '8', '--min-examples', '1', '--train', '20', '--test', '30', '--non-activating', '10'];

  test('every feature is written; train and test are disjoint; negatives never touch the feature; values as featureRecord', async () => {
    const out = freshDir();
    const { code } = await run(['--cache', synthetic, '--out', out, ...base]);
    expect(code).toBe(0);
    const hook = 'blocks.3.hook_resid_post';
    expect(filesUnder(out)).toHaveLength(SYN.width);
    const reader = (await readersOf(synthetic)).get(hook)!;
    for (let feature = 0; feature < SYN.width; feature++) {
      const record = readRecord(out, hook, feature);
      expect(Object.keys(record)).toEqual(RECORD_KEYS);
      expect(record.train).toHaveLength(20);
      expect(record.test).toHaveLength(30);
      expect(record.non_activating).toHaveLength(10);
      const train = new Set(record.train.map(windowKey));
      expect(record.test.filter((e) => train.has(windowKey(e)))).toEqual([]);
      for (const example of record.non_activating) {
        expect(example.quantile).toBe(-1);
        expect(example.activations.every((a) => a === 0)).toBe(true);
      }
      for (const example of [...record.train, ...record.test]) {
        expect(example.quantile).toBeGreaterThanOrEqual(0);
        expect(example.quantile).toBeLessThan(10);
        expect(Math.max(...example.activations)).toBeGreaterThan(0);
        expect(example.tokens).toHaveLength(8);
      }
    }
    for (const feature of [3, 41]) {
      const direct = await featureRecord(reader, feature, { exampleCtx: 8, nTrain: 20, nTest: 30, nNonActivating: 10 });
      expect(readFileSync(join(out, hook, `latent${feature}.json`), 'utf8')).toBe(JSON.stringify(direct));
    }
  });

  test('--seed: the same seed gives the same bytes, another seed other draws', async () => {
    const [a, b, c] = [freshDir(), freshDir(), freshDir()];
    expect((await run(['--cache', synthetic, '--out', a, ...base, '--seed', '5'])).code).toBe(0);
    expect((await run(['--cache', synthetic, '--out', b, ...base, '--seed', '5'])).code).toBe(0);
    expect((await run(['--cache', synthetic, '--out', c, ...base, '--seed', '6'])).code).toBe(0);
    const files = filesUnder(a);
    expect(filesUnder(b)).toEqual(files);
    expect(filesUnder(c)).toEqual(files);
    let differing = 0;
    for (const file of files) {
      expect(readFileSync(join(b, file), 'utf8')).toBe(readFileSync(join(a, file), 'utf8'));
      const x = JSON.parse(readFileSync(join(a, file), 'utf8')) as FeatureRecord;
      const y = JSON.parse(readFileSync(join(c, file), 'utf8')) as FeatureRecord;
      expect(y.n_windows).toBe(x.n_windows);
      if (JSON.stringify(x.test.map(windowKey)) !== JSON.stringify(y.test.map(windowKey)) && JSON.stringify(x.non_activating.map(windowKey)) !== JSON.stringify(y.non_activating.map(windowKey))) differing++;
    }
    expect(differing).toBeGreaterThan(files.length / 2);
  });

  test('--train-type top takes the strongest windows', async () => {
    const out = freshDir();
    expect((await run(['--cache', synthetic, '--out', out, ...base, '--train-type', 'top', '--features', '7'])).code).toBe(0);
    const record = readRecord(out, 'blocks.3.hook_resid_post', 7);
    const peaks = record.train.map((e) => Math.max(...e.activations));
    expect(peaks).toEqual([...peaks].sort((x, y) => y - x));
    expect(record.train.every((e) => e.quantile <= 1)).toBe(true);
  });

  test('--negatives neighbours: windows where the co-occurrence neighbours fire, nearest first, and it says which similarity', async () => {
    const out = freshDir();
    // 60 negatives at 10 per neighbour: six neighbours' windows, not only the nearest one's.
    const { code, out: stdout } = await run(['--cache', synthetic, '--out', out, ...base, '--non-activating', '60', '--negatives', 'neighbours', '--features', '0-4']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/similarity: co-occurrence, the Jaccard index of activating windows of 8 tokens estimated from MinHash sketches/);
    const hook = 'blocks.3.hook_resid_post';
    const reader = (await readersOf(synthetic)).get(hook)!;
    const sketches = await minHashSketches(reader, { exampleCtx: 8, seed: 22 });
    const options: Partial<RecordOptions> = { exampleCtx: 8, nTrain: 20, nTest: 30, nNonActivating: 60, negatives: 'neighbours' };
    for (let feature = 0; feature <= 4; feature++) {
      const neighbours = jaccardNeighbours(sketches, feature, 10).map((n) => n.feature);
      const record = readRecord(out, hook, feature);
      expect(record).toEqual(JSON.parse(JSON.stringify(await featureRecord(reader, feature, options, () => neighbours))));
      expect(record.non_activating).toHaveLength(60);
      // The first ten negatives are windows of the nearest neighbour, the next ten of the second.
      for (const [rank, from] of [[0, 0], [9, 0], [10, 1]] as const) {
        const neighbour = await reader.feature(neighbours[from]!);
        const example = record.non_activating[rank]!;
        const start = example.row * SYN.ctx + example.start;
        expect([...neighbour.tokens].some((t) => t >= start && t < start + 8), `negative ${rank} of feature ${feature}`).toBe(true);
      }
      const random = await featureRecord(reader, feature, { ...options, negatives: 'random' });
      expect(record.non_activating.map(windowKey)).not.toEqual(random.non_activating.map(windowKey));
    }
  });
});

describe('flags and errors', () => {
  test('parseFeatures reads lists and ranges, and names the flag for anything else', () => {
    expect(parseFeatures('0-99,130')).toEqual([[0, 99], [130, 130]]);
    expect(parseFeatures(' 7 , 2-3 ,2')).toEqual([[7, 7], [2, 3], [2, 2]]);
    expect(expandFeatures(parseFeatures('7,2-3,2,5-5'), 10, 'h')).toEqual([2, 3, 5, 7]);
    for (const bad of ['', 'a', '3-1', '1,,2', '-1', '1-', '1.5', '0-99;130']) expect(() => parseFeatures(bad), bad).toThrow(/^--features: /);
    expect(() => expandFeatures(parseFeatures('0-9,10'), 10, 'layers.6')).toThrow("--features: feature 10 is outside layers.6's 10 features (0-9).");
  });

  test.each([
    [['--out', 'x'], /^Missing --cache\./],
    [['--cache', TINY], /^Missing --out\./],
    [['--cache', TINY, '--out', 'x', '--bogus'], /^Unknown option '--bogus'\./],
    [['--cache', TINY, '--out', 'x', 'extra'], /^Unexpected argument 'extra'\./],
    [['--cache', TINY, '--out', 'x', '--train', '-1'], /^--train: a value that starts with "-" must be written --train=<value>\./],
    [['--cache', TINY, '--out', 'x', '--test=-1'], /^--test: "-1" is not a whole number of 0 or more\./],
    [['--cache', TINY, '--out', 'x', '--seed', 'abc'], /^--seed: "abc" is not a whole number\./],
    [['--cache', TINY, '--out', 'x', '--quantiles', '0'], /^--quantiles: "0" is not a whole number of 1 or more\./],
    [['--cache', TINY, '--out', 'x', '--train-type', 'best'], /^--train-type: "best" is not one of quantiles, top, random, mix\./],
    [['--cache', TINY, '--out', 'x', '--negatives', 'embedding'], /^--negatives: "embedding" is not one of random, neighbours\./],
    [['--cache', TINY, '--out', 'x', '--windows', 'centered'], /^--windows: "centered" is not one of grid, centred\./],
    [['--cache', TINY, '--out', 'x', '--skip-bos', '--keep-bos'], /contradict/],
    [['--cache', TINY, '--out', 'x', '--features', '3-1'], /^--features: "3-1"/],
    [['--cache', TINY, '--out', 'x', '--example-ctx', '4', '--features', '0,40'], /^--features: feature 40 is outside layers\.2's 40 features \(0-39\)\./],
    [['--cache', TINY, '--out', 'x'], /^--example-ctx: windows of 32 tokens do not divide layers\.2's rows of 8 tokens; try one of 4, 8\./],
    [['--cache', TINY, '--out', 'x', '--example-ctx', '4', '--hook', 'layers.9'], /^--hook: layers\.9 not found; the cache has layers\.2, layers\.5\./],
    [['--cache', join(TINY, 'does-not-exist'), '--out', 'x'], /^--cache: .*does-not-exist does not exist\./],
  ])('%j: exit code 2, the reason, then the usage', async (args, message) => {
    const out = freshDir();
    const { code, err } = await run(args.map((a) => (a === 'x' ? out : a)));
    expect(code).toBe(2);
    const lines = err.split('\n');
    expect(lines[0]).toMatch(message);
    expect(lines[1]).toMatch(/^Usage: npm run records -- --cache/);
    expect(statSync(out, { throwIfNoEntry: false })).toBeUndefined();
  });

  test('a folder without a delphi cache, and a truncated split: exit code 1 and one line with the error code', async () => {
    const empty = join(scratch, 'not-a-cache');
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, 'notes.txt'), 'hello');
    let result = await run(['--cache', empty, '--out', freshDir()]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^\[delphi\/missing-config\] No delphi cache found .* Point --cache at the cache folder/);
    expect(result.err.split('\n')).toHaveLength(1);

    const broken = join(scratch, 'broken/layers.2');
    mkdirSync(broken, { recursive: true });
    for (const name of readdirSync(join(TINY, 'layers.2'))) writeFileSync(join(broken, name), readFileSync(join(TINY, 'layers.2', name)));
    writeFileSync(join(broken, '13_25.safetensors'), readFileSync(join(TINY, 'layers.2', '13_25.safetensors')).subarray(0, 300));
    result = await run(['--cache', dirname(broken), '--out', freshDir(), '--example-ctx', '4']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^\[delphi\/bad-split\] broken\/layers\.2\/13_25\.safetensors: .*truncated/);
    expect(result.err.split('\n')).toHaveLength(1);
  });

  test('a cancelled run (Ctrl-C) stops with exit code 130 and says so', async () => {
    const controller = new AbortController();
    controller.abort();
    const { code, err } = await run(['--cache', synthetic, '--out', freshDir(), '--example-ctx', '8', '--min-examples', '1'], controller.signal);
    expect(code).toBe(130);
    expect(err).toMatch(/^stopped: 0 records written/);
  });
});
