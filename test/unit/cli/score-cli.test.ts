/**
 * `npm run score` (scripts/score-cli.ts) against the LLM stand-in running in this process: spawned as a
 * command asynchronously (a synchronous spawn would block the server it calls) or run in-process
 * through `main`. Records are written here in the shape `npm run records` writes (token ids of the tiny
 * test GPT-2), explanations as delphi's `explanations/<hook>_latent<f>.txt` files. Checked: the score
 * files (delphi's seven keys for detection and fuzzing, the simulation records), metrics.json's exact
 * shape and every figure recomputed here by hand from the written per-example records (not with the
 * metrics module), usage equal to the server's log, AUC with --logprobs, resuming (after a SIGTERM too),
 * faults on 30% of requests (every feature scored or listed as failed; a prediction is the stand-in's
 * answer or null, never guessed), a refused key and spent credits, and the key in no output.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { main, parseCli } from '../../../scripts/score-cli.ts';
import type { ScoreRunJson } from '../../../scripts/run-files.ts';
import { startLlmServer, type LlmServer, type RecordedRequest } from '../../../scripts/servers/llm-server.ts';
import { tokenizerFromJson, type Example, type FeatureRecord } from '../../../src/lib/index.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const CLI = join(ROOT, 'scripts/score-cli.ts');
const TOKENIZER_DIR = join(ROOT, 'test/fixtures/hub/autointerp-test/tiny-gpt2');
const KEY = 'sk-or-v1-score-cli-test-93b1c07e55a2';
const MODEL = 'stand-in/explainer';
const HOOK_A = 'blocks.6.hook_resid_pre';
const HOOK_B = 'blocks.8.hook_mlp_out';
const TOPICS = ['cat', 'river', 'engine', 'violin', 'harbor', 'lantern', 'pepper', 'comet', 'ladder', 'meadow', 'garden', 'window'];

const tokenizer = tokenizerFromJson(JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8')));

const SENTENCES: [string, string][] = [
  ['The old', 'sat quietly by the door all day.'],
  ['Nobody expected the', 'to come back so soon.'],
  ['She pointed at the', 'and laughed out loud.'],
  ['In the morning the', 'was gone again.'],
  ['A small', 'appeared near the gate.'],
];
const QUIET = ['Prices rose sharply in the second quarter.', 'The committee will meet again on Tuesday.', 'Rain is expected over the weekend.', 'He signed the papers without reading them.', 'Most shops close early on Sundays.'];

/** An example whose feature fires on `word`'s tokens (value `value`), 0 elsewhere; ids of the tiny GPT-2. */
function example(before: string, word: string, after: string, value: number, quantile: number, row: number): Example {
  const parts = [tokenizer.encode(before), word ? tokenizer.encode(` ${word}`) : [], tokenizer.encode(after ? ` ${after}` : '')];
  const tokens = parts.flat();
  const activations = [...parts[0]!.map(() => 0), ...parts[1]!.map(() => value), ...parts[2]!.map(() => 0)];
  return { row, start: 0, tokens, activations, normalized: activations.map((a) => Math.round(a)), quantile };
}

/**
 * A feature that fires on its topic word, with a twist so that the stand-in (which says 1 where the
 * explanation's word is found) is wrong now and then: one activating example fires on another word
 * (a miss), one non-activating example holds the topic word (a false alarm).
 */
function record(hook: string, feature: number): FeatureRecord {
  const word = TOPICS[feature % TOPICS.length]!;
  const test = SENTENCES.map(([before, after], i) => example(before, word, after, 10 - i, i, i));
  test.push(example('Then a loud', 'noise', 'came from the hall.', 4, 4, 5));
  const non_activating = QUIET.map((text, i) => example(text, '', '', 0, -1, 100 + i));
  non_activating.push(example(`Yesterday a ${word} was mentioned only in passing.`, '', '', 0, -1, 110));
  return { feature, hook, n_activations: 10 * (feature + 1), n_windows: 6, max_activation: 10, train: test, test, non_activating };
}
const explanationOf = (feature: number): string => `the word "${TOPICS[feature % TOPICS.length]}"`;

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'score-cli-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
const fresh = (name: string): string => {
  const dir = join(scratch, `${name}-${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** Records as `npm run records` writes them and explanations as `npm run explain` does (`<dir>/explanations/`). */
function writeInputs(features: Record<string, number[]>): { records: string; explained: string } {
  const records = fresh('records');
  const explained = fresh('explained');
  mkdirSync(join(explained, 'explanations'));
  for (const [hook, list] of Object.entries(features)) {
    mkdirSync(join(records, hook), { recursive: true });
    for (const feature of list) {
      writeFileSync(join(records, hook, `latent${feature}.json`), JSON.stringify(record(hook, feature)));
      writeFileSync(join(explained, 'explanations', `${hook}_latent${feature}.txt`), JSON.stringify(explanationOf(feature)));
    }
  }
  return { records, explained };
}

const scoreFiles = (out: string, scorer: string): string[] => (existsSync(join(out, 'scores', scorer)) ? readdirSync(join(out, 'scores', scorer)).sort() : []);
const readJson = <T,>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const readRun = (out: string): ScoreRunJson => readJson<ScoreRunJson>(join(out, 'score-run.json'));

interface ClassifierRecord {
  str_tokens: string[];
  activations: number[];
  distance: number;
  activating: boolean;
  prediction: number | null;
  probability: number | null;
  correct: boolean | null;
}
interface SimulationRecord {
  str_tokens: string[];
  activations: number[];
  distance: number;
  activating: boolean;
  predicted: number[] | null;
}

// ---- The figures, by hand -------------------------------------------------------------------------

function byHandClassification(examples: readonly ClassifierRecord[]) {
  let tp = 0, fp = 0, tn = 0, fn = 0, failed = 0;
  for (const e of examples) {
    if (e.prediction === null) {
      failed++;
      continue;
    }
    const yes = e.prediction >= 0.5;
    if (e.activating && yes) tp++;
    else if (e.activating) fn++;
    else if (yes) fp++;
    else tn++;
  }
  const div = (a: number, b: number) => (b === 0 ? null : a / b);
  const tpr = div(tp, tp + fn);
  const tnr = div(tn, tn + fp);
  const p = div(tp, tp + fp);
  const r = div(tp, tp + fn);
  // AUC: the share of (activating, non-activating) pairs ordered right by probability, ties half.
  const pos = examples.filter((e) => e.prediction !== null && e.probability !== null && e.activating).map((e) => e.probability!);
  const neg = examples.filter((e) => e.prediction !== null && e.probability !== null && !e.activating).map((e) => e.probability!);
  let wins = 0;
  for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return {
    balanced_accuracy: tpr === null || tnr === null ? null : (tpr + tnr) / 2,
    precision: p,
    recall: r,
    f1: p === null || r === null ? div(2 * tp, 2 * tp + fp + fn) : p + r === 0 ? 0 : (2 * p * r) / (p + r),
    auc: pos.length && neg.length ? wins / (pos.length * neg.length) : null,
    failed,
  };
}

function byHandPearson(sequences: readonly SimulationRecord[]): number | null {
  const x: number[] = [];
  const y: number[] = [];
  for (const s of sequences) if (s.predicted) s.activations.forEach((a, i) => (x.push(a), y.push(s.predicted![i]!)));
  const n = x.length;
  if (n < 2) return null;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

const CLASSIFIER_KEYS = ['str_tokens', 'activations', 'distance', 'activating', 'prediction', 'probability', 'correct'];
const SIMULATION_KEYS = ['str_tokens', 'activations', 'distance', 'activating', 'predicted'];
const CLASSIFIER_METRICS = ['balanced_accuracy', 'precision', 'recall', 'f1', 'auc', 'failed'];

const close = (actual: unknown, expected: number | null) => {
  if (expected === null) expect(actual).toBeNull();
  else expect(actual as number).toBeCloseTo(expected, 12);
};

type Metrics = Record<string, { pooled: Record<string, unknown>; per_feature: Record<string, Record<string, unknown>>; per_hook?: Record<string, Record<string, unknown>> }>;

/**
 * metrics.json has exactly the scorers with score files, each `{pooled, per_feature}` (per_hook too
 * with several hooks), per_feature one entry per score file, and every figure equals the hand-made
 * one of the score files' records. Returns the files' records by scorer and label.
 */
function expectMetricsMatchFiles(out: string, scorers: string[], label: (hook: string, feature: number) => string = (_, f) => String(f)) {
  const metrics = readJson<Metrics>(join(out, 'metrics.json'));
  expect(Object.keys(metrics).sort()).toEqual([...scorers].sort());
  const all: Record<string, Record<string, unknown[]>> = {};
  for (const scorer of scorers) {
    const files = scoreFiles(out, scorer);
    const records = Object.fromEntries(
      files.map((name) => {
        const [, hook, feature] = /^(.+)_latent(\d+)\.txt$/.exec(name)!;
        return [label(hook!, Number(feature)), readJson<unknown[]>(join(out, 'scores', scorer, name))];
      }),
    );
    all[scorer] = records;
    const entry = metrics[scorer]!;
    expect(Object.keys(entry).slice(0, 2)).toEqual(['pooled', 'per_feature']);
    expect(Object.keys(entry.per_feature).sort()).toEqual(Object.keys(records).sort());
    const pooledRecords = Object.values(records).flat();
    if (scorer === 'simulation') {
      for (const list of Object.values(records)) for (const r of list) expect(Object.keys(r as object)).toEqual(SIMULATION_KEYS);
      expect(Object.keys(entry.pooled)[0]).toBe('pearson');
      close(entry.pooled.pearson, byHandPearson(pooledRecords as SimulationRecord[]));
      for (const [name, list] of Object.entries(records)) {
        expect(Object.keys(entry.per_feature[name]!)[0]).toBe('pearson');
        close(entry.per_feature[name]!.pearson, byHandPearson(list as SimulationRecord[]));
      }
    } else {
      for (const list of Object.values(records)) for (const r of list) expect(Object.keys(r as object)).toEqual(CLASSIFIER_KEYS);
      const check = (figures: Record<string, unknown>, list: unknown[]) => {
        expect(Object.keys(figures).slice(0, 6)).toEqual(CLASSIFIER_METRICS);
        const hand = byHandClassification(list as ClassifierRecord[]);
        for (const key of CLASSIFIER_METRICS) close(figures[key], hand[key as keyof typeof hand]);
      };
      check(entry.pooled, pooledRecords);
      for (const [name, list] of Object.entries(records)) check(entry.per_feature[name]!, list);
    }
  }
  return { metrics, records: all };
}

// ---- Running the command ---------------------------------------------------------------------------

function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENROUTER_API_KEY;
  return { ...env, ...extra };
}

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The command, spawned asynchronously (the stand-in answers from this process meanwhile). */
async function cli(args: string[], env: Record<string, string> = { OPENROUTER_API_KEY: KEY }): Promise<CliRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: envWith(env) });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `main` in this process, its output kept. */
async function inProcess(args: string[], env: Record<string, string> = { OPENROUTER_API_KEY: KEY }): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { log: (line) => (stdout += `${line}\n`), info: (line) => (stderr += `${line}\n`), env });
  return { code, stdout, stderr };
}

const chats = (requests: RecordedRequest[]): RecordedRequest[] => requests.filter((r) => r.method === 'POST' && r.path.endsWith('/chat/completions'));

function logged(requests: RecordedRequest[]) {
  const usages = requests.filter((r) => r.usage).map((r) => r.usage!);
  const sum = (key: 'prompt_tokens' | 'completion_tokens' | 'cost') => usages.reduce((a, u) => a + (u[key] ?? 0), 0);
  return { prompt_tokens: sum('prompt_tokens'), completion_tokens: sum('completion_tokens'), cost: sum('cost') };
}

function expectNoKey(run: CliRun, out?: string): void {
  expect(run.stdout).not.toContain(KEY);
  expect(run.stderr).not.toContain(KEY);
  if (!out) return;
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  for (const path of walk(out)) expect(readFileSync(path, 'utf8'), path).not.toContain(KEY);
}

/** Calls per feature: detection and fuzzing ask 5 of the 12 samples a prompt, simulation one sequence a prompt. */
const CALLS = { detection: 3, fuzzing: 3, simulation: 12 } as const;

let server: LlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('npm run score', () => {
  test('scores with detection, fuzzing and simulation into delphi layout; metrics.json is exact and its figures are those of the files; usage equals the server log', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const features = [0, 1, 2, 3];
    const { records, explained } = writeInputs({ [HOOK_A]: features });
    const out = fresh('out');
    const run = await cli(['--records', records, '--explanations', explained, '--scorers', 'detection,fuzzing,simulation', '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--concurrency', '3']);
    expect(run.code, run.stderr).toBe(0);
    for (const scorer of ['detection', 'fuzzing', 'simulation']) expect(scoreFiles(out, scorer)).toEqual(features.map((f) => `${HOOK_A}_latent${f}.txt`));
    const { metrics, records: written } = expectMetricsMatchFiles(out, ['detection', 'fuzzing', 'simulation']);
    // The exact single-hook shape: {scorer: {pooled, per_feature: {"<f>": ...}}}, nothing else at the top.
    for (const scorer of ['detection', 'fuzzing', 'simulation']) expect(Object.keys(metrics[scorer]!)).toEqual(['pooled', 'per_feature']);
    expect(Object.keys(metrics.detection!.per_feature)).toEqual(['0', '1', '2', '3']);
    // The twist in each record is seen: one miss and one false alarm per feature (detection), no AUC without log-probabilities.
    expect(metrics.detection!.per_feature['0']).toMatchObject({ balanced_accuracy: 5 / 6, precision: 5 / 6, recall: 5 / 6, f1: 5 / 6, auc: null, failed: 0 });
    expect(metrics.fuzzing!.pooled.auc).toBeNull();
    expect(metrics.simulation!.pooled.pearson).toEqual(expect.any(Number));
    // Records: 6 activating + 6 non-activating per feature, the truth from the record; str_tokens decoded one by one.
    const first = written.detection!['0'] as ClassifierRecord[];
    expect(first).toHaveLength(12);
    expect(first.filter((e) => e.activating)).toHaveLength(6);
    expect(first.filter((e) => e.distance === -1)).toHaveLength(6);
    const cat = first.find((e) => e.str_tokens.join('') === 'The old cat sat quietly by the door all day.')!;
    expect(cat).toMatchObject({ activating: true, distance: 0, prediction: 1, probability: null, correct: true });
    for (const e of first) expect(e.correct).toBe(e.prediction === null ? null : e.prediction === 1 === e.activating);
    const simulated = written.simulation!['0'] as SimulationRecord[];
    expect(simulated).toHaveLength(12);
    for (const s of simulated) expect(s.predicted).toHaveLength(s.activations.length);

    const json = readRun(out);
    expect(json).toMatchObject({ model: MODEL, base_url: server.openRouterBase, scorers: ['detection', 'fuzzing', 'simulation'], seed: 22, concurrency: 3, budget: null, features: 4, runs: 1, failures: [], call_failures: [] });
    expect(json.per_scorer.detection).toMatchObject({ scored: 4, succeeded: 4, failed: 0, skipped: 0, not_done: 0, modes: { text: 4 } });
    expect(json.per_scorer.simulation).toMatchObject({ scored: 4, modes: { integers: 4 } });
    expect(json.settings.detection).toMatchObject({ examples_shown: 5, logprobs: false, threshold: 0.3 });
    expect(json.stopped).toBeUndefined();
    // Exact: what score-run.json says = what the server says it sent.
    const sums = logged(server.requests);
    const calls = features.length * (CALLS.detection + CALLS.fuzzing + CALLS.simulation);
    expect(chats(server.requests)).toHaveLength(calls);
    expect(json.usage).toMatchObject(sums);
    expect(json.usage_this_run).toMatchObject({ ...sums, calls, attempts: calls, uncosted_calls: 0, estimated_cost: 0 });
    expect(json.usage.cost).toBeGreaterThan(0);
    expect(json.estimate.pairs).toBe(12);
    expect(json.estimate.prompt_tokens).toBeGreaterThan(sums.prompt_tokens * 0.5);
    expect(json.estimate.prompt_tokens).toBeLessThan(sums.prompt_tokens * 2);
    expect(run.stdout).toMatch(/^detection: balanced accuracy 0\.833, f1 0\.833, auc n\/a over 4 features \(4 scored now, 0 before, 0 failed\)$/m);
    expect(run.stdout).toMatch(/^done: 12 scores written, 0 failed, 0 skipped/m);
    expect(run.stderr).toMatch(/scored 12 of 12 scores/);
    for (const request of server.requests) expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
    expectNoKey(run, out);
  });

  test('--logprobs gives probabilities and an AUC (equal to the one counted by hand), expected values for simulation', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const { records, explained } = writeInputs({ [HOOK_A]: [0, 1, 2] });
    const out = fresh('out');
    // --explanations may also be the explanations/ folder itself.
    const run = await inProcess(['--records', records, '--explanations', join(explained, 'explanations'), '--scorers', 'detection,fuzz,simulation', '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--logprobs']);
    expect(run.code, run.stderr).toBe(0);
    const { metrics, records: written } = expectMetricsMatchFiles(out, ['detection', 'fuzzing', 'simulation']);
    expect(metrics.detection!.pooled.auc).toEqual(expect.any(Number));
    expect(metrics.fuzzing!.pooled.auc).toEqual(expect.any(Number));
    for (const list of Object.values(written.detection!)) for (const e of list as ClassifierRecord[]) expect(e.probability).toEqual(expect.any(Number));
    expect(readRun(out).per_scorer).toMatchObject({ detection: { modes: { logprobs: 3 } }, simulation: { modes: { 'expected-value': 3 } } });
    for (const request of chats(server.requests)) expect(request.body).toMatchObject({ logprobs: true, top_logprobs: expect.any(Number) });
    expect(readRun(out).usage).toMatchObject(logged(server.requests));
  });

  test('resumes: a scorer added later asks only its calls; a removed score file is scored again; SIGTERM to npm writes the run files and exits 143', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const features = Array.from({ length: 10 }, (_, f) => f);
    const { records, explained } = writeInputs({ [HOOK_A]: features });
    const out = fresh('out');
    const base = ['--records', records, '--explanations', explained, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--concurrency', '2'];

    // SIGTERM to `npm run score` (the process the user started) during a detection run.
    server.setLatency(150);
    const child = spawn('npm', ['run', '--silent', 'score', '--', ...base, '--scorers', 'detection'], { cwd: ROOT, env: envWith({ OPENROUTER_API_KEY: KEY }) });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    await expect.poll(() => scoreFiles(out, 'detection').length, { timeout: 60_000, interval: 25 }).toBeGreaterThanOrEqual(2);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(143);
    const done = scoreFiles(out, 'detection').length;
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(10);
    const first = readRun(out);
    expect(first).toMatchObject({ stopped: { code: 'cancelled' }, per_scorer: { detection: { scored: done, succeeded: done, not_done: 10 - done } } });
    expect(first.finished_at).not.toBeNull();
    expect(stderr).toMatch(/stopped: Stopped by SIGTERM after \d+ scores in this run; rerun the same command to go on\./);
    expectMetricsMatchFiles(out, ['detection']);
    expectNoKey({ code: 143, stdout, stderr }, out);

    // The rerun asks the features not done, 3 calls each; then fuzzing added asks only fuzzing's calls.
    server.setLatency(0);
    const afterStop = server.requests.length;
    let before = server.requests.length;
    const rerun = await inProcess([...base, '--scorers', 'detection']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(chats(server.requests.slice(before))).toHaveLength(CALLS.detection * (10 - done));
    expect(rerun.stdout).toContain(`resuming ${out}: detection ${done} features already scored (not asked again), ${10 - done} scores to go`);
    const second = readRun(out);
    expect(second).toMatchObject({ runs: 2, per_scorer: { detection: { scored: 10, succeeded: 10 - done, skipped: done, not_done: 0 } } });
    expect(second.usage_this_run).toMatchObject(logged(server.requests.slice(before)));
    expect(second.usage.prompt_tokens).toBe(first.usage.prompt_tokens + second.usage_this_run.prompt_tokens);

    before = server.requests.length;
    const added = await inProcess([...base, '--scorers', 'detection,fuzzing']);
    expect(added.code, added.stderr).toBe(0);
    expect(chats(server.requests.slice(before))).toHaveLength(CALLS.fuzzing * 10);
    expect(chats(server.requests.slice(before)).every((r) => JSON.stringify(r.body).includes('<<'))).toBe(true); // fuzzing's marked excerpts only
    expectMetricsMatchFiles(out, ['detection', 'fuzzing']);

    // A score file removed: only that feature is asked again; nothing else.
    unlinkSync(join(out, 'scores', 'fuzzing', `${HOOK_A}_latent7.txt`));
    before = server.requests.length;
    const again = await inProcess([...base, '--scorers', 'detection,fuzzing']);
    expect(again.code, again.stderr).toBe(0);
    expect(chats(server.requests.slice(before))).toHaveLength(CALLS.fuzzing);
    expect(scoreFiles(out, 'fuzzing')).toHaveLength(10);
    const last = readRun(out);
    expect(last).toMatchObject({ runs: 4, per_scorer: { detection: { scored: 10, skipped: 10 }, fuzzing: { scored: 10, skipped: 9, succeeded: 1 } } });
    // Every call answered after the stopped run is in the totals, on top of what that run counted.
    expect(last.usage.prompt_tokens - first.usage.prompt_tokens).toBe(logged(server.requests.slice(afterStop)).prompt_tokens);
    expect(last.usage.calls - first.usage.calls).toBe(chats(server.requests.slice(afterStop)).length);

    // Another model into the same folder is refused.
    const other = await inProcess([...base.slice(0, 6), '--model', 'stand-in/no-logprobs', ...base.slice(8)]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/holds results made from other inputs: --model \(was stand-in\/explainer, now stand-in\/no-logprobs\)\. Nothing was asked or written/);
    const changed = await inProcess([...base, '--scorers', 'detection', '--examples-shown', '4']);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/other inputs: the detection settings \(--logprobs, --examples-shown, --simulation-format\) \(was \{.*"examples_shown":5.*\}, now \{.*"examples_shown":4.*\}\)/);
  });

  test('a 1 MB explanation is refused and named, never sent; the other features are scored', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const { records, explained } = writeInputs({ [HOOK_A]: [0, 1, 2] });
    const huge = `the word "cat" ${'and so on '.repeat(100_000)}`;
    writeFileSync(join(explained, 'explanations', `${HOOK_A}_latent1.txt`), JSON.stringify(huge));
    const out = fresh('out');
    const run = await inProcess(['--records', records, '--explanations', explained, '--scorers', 'detection', '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR]);
    expect(run.code, run.stderr).toBe(0);
    expect(scoreFiles(out, 'detection')).toEqual([`${HOOK_A}_latent0.txt`, `${HOOK_A}_latent2.txt`]);
    const json = readRun(out);
    expect(json.failures).toEqual([expect.objectContaining({ hook: HOOK_A, feature: 1, scorer: 'detection', code: 'score/explanation-too-long' })]);
    expect(json.failures[0]!.message).toMatch(/^The explanation of feature 1 \(blocks\.6\.hook_resid_pre\) has 1,000,015 characters, more than the 1,000 a scorer is sent/);
    for (const request of server.requests) expect(String(JSON.stringify(request.body))).not.toContain('and so on and so on');
    // A larger limit, given: the prompts would not fit the model's listed context (32,768 tokens), so they are refused before they are sent.
    const raisedOut = fresh('out');
    const raised = await inProcess(['--records', records, '--explanations', explained, '--scorers', 'detection', '--base-url', server.openRouterBase, '--model', MODEL, '--out', raisedOut, '--tokenizer', TOKENIZER_DIR, '--max-explanation-chars', '2000000']);
    expect(raised.code, raised.stderr).toBe(0);
    const tooLong = readRun(raisedOut).failures;
    expect(tooLong).toEqual([expect.objectContaining({ feature: 1, scorer: 'detection', code: 'llm/prompt-too-long' })]);
    expect(tooLong[0]!.message).toMatch(/more than stand-in\/explainer's context of 32,768 tokens: not sent/);
    for (const request of server.requests) expect(String(JSON.stringify(request.body))).not.toContain('and so on and so on');
    // One that fits the context, under a larger limit: sent.
    writeFileSync(join(explained, 'explanations', `${HOOK_A}_latent1.txt`), JSON.stringify(`the word "cat" ${'and so on '.repeat(4_000)}`));
    const fits = await inProcess(['--records', records, '--explanations', explained, '--scorers', 'detection', '--base-url', server.openRouterBase, '--model', MODEL, '--out', fresh('out'), '--tokenizer', TOKENIZER_DIR, '--max-explanation-chars', '100000']);
    expect(fits.code, fits.stderr).toBe(0);
    expect(server.requests.some((request) => String(JSON.stringify(request.body)).includes('and so on and so on'))).toBe(true);
  });

  test('a rerun asks again exactly the calls that failed (busy server, unreadable answers), never an answered one; the files end as a clean run writes them', async () => {
    const features = [0, 1, 2, 3, 4, 5];
    const { records, explained } = writeInputs({ [HOOK_A]: features });
    server = await startLlmServer({ keys: [KEY], retryAfterSeconds: 0 });
    const args = (out: string) => ['--records', records, '--explanations', explained, '--scorers', 'detection,simulation', '--base-url', server!.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--attempts', '1'];
    const clean = fresh('clean');
    expect((await inProcess(args(clean))).code).toBe(0);

    server.setFaults({ rate: 0.35, seed: 5, kinds: ['rate-limit', 'server-error', 'malformed', 'empty', 'nonsense', 'truncated'] });
    const out = fresh('out');
    const start = server.requests.length;
    expect((await inProcess(args(out))).code).toBe(0);
    const first = readRun(out);
    const body = (r: RecordedRequest) => JSON.stringify((r.body as { messages: unknown }).messages);
    const firstRun = chats(server.requests.slice(start));
    const answered = new Set(firstRun.filter((r) => !r.fault).map(body));
    const faulted = firstRun.filter((r) => r.fault).map(body);
    expect(first.call_failures.length).toBeGreaterThan(3);
    const redo = first.call_failures.length + first.failures.reduce((n, f) => n + CALLS[f.scorer as 'detection' | 'simulation'], 0);

    server.setFaults({ rate: 0 });
    const before = server.requests.length;
    const rerun = await inProcess(args(out));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/scored features? with failed calls to ask again/);
    const asked = chats(server.requests.slice(before)).map(body);
    // Exactly the failed calls (and those of the features that failed whole), each once; none that had been answered.
    expect(asked).toHaveLength(redo);
    expect(new Set(asked).size).toBe(asked.length);
    for (const prompt of asked) {
      expect(answered.has(prompt)).toBe(false);
      expect(faulted).toContain(prompt);
    }
    const second = readRun(out);
    expect(second).toMatchObject({ failures: [], call_failures: [] });
    expect(second.usage.calls).toBe(first.usage.calls + redo);
    // Completed files are the files a run without faults wrote, byte for byte, and so are the metrics.
    for (const scorer of ['detection', 'simulation']) {
      for (const name of scoreFiles(clean, scorer)) expect(readFileSync(join(out, 'scores', scorer, name), 'utf8'), `${scorer}/${name}`).toBe(readFileSync(join(clean, 'scores', scorer, name), 'utf8'));
    }
    expect(readJson(join(out, 'metrics.json'))).toEqual(readJson(join(clean, 'metrics.json')));
  });

  test('a rerun with other records or explanations into the same --out is refused, naming the features, and nothing is asked or written', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const { records, explained } = writeInputs({ [HOOK_A]: [0, 1, 2] });
    const out = fresh('out');
    const args = (recordsDir: string, explanationsDir: string) => ['--records', recordsDir, '--explanations', explanationsDir, '--scorers', 'detection', '--base-url', server!.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR];
    expect((await inProcess(args(records, explained))).code).toBe(0);
    const files = () => Object.fromEntries(readdirSync(out, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name), 'utf8')]));
    const kept = files();
    const requests = server.requests.length;

    // Other records of the same hook and features (another cache): refused.
    const other = writeInputs({ [HOOK_A]: [0, 1, 2] });
    const changed = record(HOOK_A, 1);
    changed.test[0]!.activations[2] = 3.5;
    writeFileSync(join(other.records, HOOK_A, 'latent1.json'), JSON.stringify(changed));
    const refused = await inProcess(args(other.records, explained));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`holds results made from other inputs: the records or explanations of feature ${HOOK_A.replaceAll('.', '\\.')}:1 \\(not those the stored results were made from\\)\\. Nothing was asked or written`));
    // Another explanation of a scored feature: refused too.
    writeFileSync(join(explained, 'explanations', `${HOOK_A}_latent2.txt`), JSON.stringify('the word "river" only'));
    const rewritten = await inProcess(args(records, explained));
    expect(rewritten.code).toBe(2);
    expect(rewritten.stderr).toMatch(/the records or explanations of feature blocks\.6\.hook_resid_pre:2 /);
    expect(server.requests.length).toBe(requests);
    expect(files()).toEqual(kept);
    // More features with the same inputs as before: taken (only the new ones are asked).
    writeFileSync(join(explained, 'explanations', `${HOOK_A}_latent2.txt`), readFileSync(join(other.explained, 'explanations', `${HOOK_A}_latent2.txt`)));
    const more = writeInputs({ [HOOK_A]: [0, 1, 2, 3] });
    const grown = await inProcess(args(more.records, more.explained));
    expect(grown.code, grown.stderr).toBe(0);
    expect(readRun(out).per_scorer.detection).toMatchObject({ scored: 4, succeeded: 1, skipped: 3 });
  });

  test('with faults on 30% of requests every feature ends scored or listed as failed; predictions are the model\'s or null, never guessed', async () => {
    const features = Array.from({ length: 8 }, (_, f) => f);
    const { records, explained } = writeInputs({ [HOOK_A]: features });
    const scorers = ['detection', 'fuzzing', 'simulation'];
    const args = (out: string) => ['--records', records, '--explanations', explained, '--scorers', scorers.join(','), '--base-url', server!.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--timeout', '2', '--attempts', '2'];
    server = await startLlmServer({ keys: [KEY], retryAfterSeconds: 0 });
    const clean = fresh('clean');
    expect((await inProcess(args(clean))).code).toBe(0);

    server.setFaults({ rate: 0.3, seed: 3 });
    const start = server.requests.length;
    const out = fresh('out');
    const run = await cli(args(out));
    expect(run.code, run.stderr).toBe(0);
    const json = readRun(out);
    expect(json.stopped).toBeUndefined();
    const faulty = server.requests.slice(start);
    expect(chats(faulty).filter((r) => r.fault).length).toBeGreaterThan(10);
    let nulls = 0;
    for (const scorer of scorers) {
      const scored = scoreFiles(out, scorer).map((name) => Number(/_latent(\d+)\.txt$/.exec(name)![1]));
      const failed = json.failures.filter((f) => f.scorer === scorer).map((f) => f.feature);
      // Each feature: a score file or a failure, never both, never neither.
      expect([...scored, ...failed].sort((a, b) => a - b)).toEqual(features);
      expect(json.per_scorer[scorer]).toMatchObject({ scored: scored.length, failed: failed.length, not_done: 0 });
      for (const feature of scored) {
        const name = `${HOOK_A}_latent${feature}.txt`;
        const got = readJson<(ClassifierRecord & SimulationRecord)[]>(join(out, 'scores', scorer, name));
        const want = readJson<(ClassifierRecord & SimulationRecord)[]>(join(clean, 'scores', scorer, name));
        const missing = got.filter((e, i) => {
          expect(e.str_tokens).toEqual(want[i]!.str_tokens); // same seed, same order
          const value = scorer === 'simulation' ? e.predicted : e.prediction;
          if (value !== null) expect(value).toEqual(scorer === 'simulation' ? want[i]!.predicted : want[i]!.prediction);
          return value === null;
        }).length;
        nulls += missing;
        // Missing predictions come only with failed calls listed for that feature.
        const listed = json.call_failures.filter((f) => f.scorer === scorer && f.feature === feature);
        if (missing > 0) expect(listed.length).toBeGreaterThan(0);
        else expect(listed.every((f) => f.code === 'llm/no-logprobs')).toBe(true);
      }
    }
    expect(nulls).toBeGreaterThan(0);
    const { metrics } = expectMetricsMatchFiles(out, scorers);
    expect((metrics.detection!.pooled.failed as number) + (metrics.fuzzing!.pooled.failed as number) + (metrics.simulation!.pooled.failed as number)).toBe(nulls);
    for (const failure of [...json.failures, ...json.call_failures]) {
      expect(failure.hook).toBe(HOOK_A);
      expect(failure.message.length).toBeGreaterThan(10);
    }
    expect(json.usage.attempts).toBeGreaterThan(json.usage.calls);
    expect(json.usage).toMatchObject(logged(faulty));
    expectNoKey(run, out);
  });

  test('a refused key (401) and spent credits (402) stop the run with exit 1 and a clear message', async () => {
    server = await startLlmServer({ keys: ['sk-the-right-one'] });
    const { records, explained } = writeInputs({ [HOOK_A]: Array.from({ length: 6 }, (_, f) => f) });
    let out = fresh('out');
    const base = ['--records', records, '--explanations', explained, '--base-url', server.openRouterBase, '--model', MODEL, '--tokenizer', TOKENIZER_DIR, '--concurrency', '2'];
    const refused = await inProcess([...base, '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/stopped: The run stopped after 0 of 12 features: 127\.0\.0\.1:\d+ refused the API key \(401/);
    expect(readRun(out)).toMatchObject({ stopped: { code: 'llm/unauthorized' }, per_scorer: { detection: { scored: 0, not_done: 6 } } });
    expect(readJson(join(out, 'metrics.json'))).toEqual({});
    expect(chats(server.requests).length).toBeLessThanOrEqual(2);
    expectNoKey(refused, out);
    await server.close();

    server = await startLlmServer({ creditLimit: 0.002 });
    out = fresh('out');
    const broke = await inProcess([...base.slice(0, 4), '--base-url', server.openRouterBase, ...base.slice(6), '--out', out]);
    expect(broke.code).toBe(1);
    expect(broke.stderr).toMatch(/stopped: .*no credits left \(402/);
    const json = readRun(out);
    expect(json.stopped?.code).toBe('llm/no-credits');
    expect(json.usage).toMatchObject(logged(server.requests));
    expectMetricsMatchFiles(out, ['detection', 'fuzzing'].filter((s) => scoreFiles(out, s).length > 0));
  });

  test('several hooks: per_feature keyed "<hook>:<f>" plus per_hook; records without explanation and bad explanations are reported', async () => {
    server = await startLlmServer();
    const { records, explained } = writeInputs({ [HOOK_A]: [0, 1, 2], [HOOK_B]: [0, 4] });
    unlinkSync(join(explained, 'explanations', `${HOOK_A}_latent2.txt`));
    writeFileSync(join(explained, 'explanations', `${HOOK_A}_latent9.txt`), JSON.stringify('no record for this one'));
    writeFileSync(join(explained, 'explanations', `${HOOK_B}_latent4.txt`), 'not json');
    const out = fresh('out');
    // A server on this machine without a key.
    const run = await inProcess(['--records', records, '--explanations', explained, '--base-url', server.openAiBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR], {});
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/key: none \(127\.0\.0\.1:\d+ is on this machine\)/);
    expect(run.stdout).toMatch(/^ {2}1 record without an explanation \(not scored\)$/m);
    expect(run.stdout).toMatch(/^ {2}1 explanation without a record \(not scored\)$/m);
    const json = readRun(out);
    expect(json).toMatchObject({ features: 4, records_without_explanation: 1, explanations_without_record: 1 });
    expect(json.failures.map((f) => [f.scorer, f.hook, f.feature, f.code])).toEqual([['detection', HOOK_B, 4, 'results/bad-file'], ['fuzzing', HOOK_B, 4, 'results/bad-file']]);
    const { metrics } = expectMetricsMatchFiles(out, ['detection', 'fuzzing'], (hook, f) => `${hook}:${f}`);
    expect(Object.keys(metrics.detection!.per_feature)).toEqual([`${HOOK_A}:0`, `${HOOK_A}:1`, `${HOOK_B}:0`]);
    expect(Object.keys(metrics.detection!.per_hook!)).toEqual([HOOK_A, HOOK_B]);
    expect(metrics.detection!.per_hook![HOOK_B]).toMatchObject(metrics.detection!.per_feature[`${HOOK_B}:0`]!);
    expect(json.usage).toMatchObject({ prompt_tokens: logged(server.requests).prompt_tokens, cost: 0, uncosted_calls: 3 * 2 * 3 });
  });

  test('--key is refused without echoing it; no key for a remote host is an error', async () => {
    for (const flag of [['--key', KEY], [`--key=${KEY}`], ['--api-key', KEY]]) {
      const run = await inProcess(['--records', 'r', '--explanations', 'e', '--model', MODEL, '--out', 'o', ...flag]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^--(api-)?key is refused: a key given on the command line/m);
      expectNoKey(run);
    }
    const { records, explained } = writeInputs({ [HOOK_A]: [0] });
    const remote = await inProcess(['--records', records, '--explanations', explained, '--base-url', 'https://openrouter.ai/api/v1', '--model', MODEL, '--out', fresh('out')], {});
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/^No API key: openrouter\.ai needs one/m);
    const none = await inProcess(['--records', records, '--explanations', fresh('empty'), '--base-url', 'http://127.0.0.1:9/v1', '--model', MODEL, '--out', fresh('out')], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--explanations: no <hook>_latent<f>\.txt files in/);
  });
});

describe('parseCli', () => {
  const base = ['--records', 'r', '--explanations', 'e', '--base-url', 'http://127.0.0.1:1/v1', '--model', 'm', '--out', 'o'];
  test('defaults and scorer names', () => {
    expect(parseCli(base)).toMatchObject({ scorers: ['detection', 'fuzzing'], concurrency: 8, keyEnv: 'OPENROUTER_API_KEY', keyEnvGiven: false, tokenizer: 'openai-community/gpt2', timeoutMs: 90_000, attempts: 5, logprobs: false, examplesShown: 5, seed: 22, simulationFormat: 'lines' });
    expect(parseCli([...base, '--scorers', 'simulation,fuzz,fuzzing', '--logprobs', '--seed', '7', '--budget', '1.5']).scorers).toEqual(['simulation', 'fuzzing']);
    expect(parseCli([...base, '--budget', '1.5']).budget).toBe(1.5);
  });
  test.each([
    [['--scorers', 'magic'], /--scorers: "magic" is not one of detection, fuzzing, fuzz, simulation/],
    [['--examples-shown', '0'], /--examples-shown: "0" is not a whole number of 1 or more/],
    [['--examples-shown', '51'], /more than 50/],
    [['--seed', 'x'], /--seed: "x" is not a whole number/],
    [['--simulation-format', 'xml'], /--simulation-format: "xml" is not one of lines, json/],
    [['--token', 'x'], /--token is refused/],
  ])('%j is refused', (extra, message) => {
    expect(() => parseCli([...base, ...extra])).toThrow(message);
  });
  test('a missing flag is named', () => {
    expect(() => parseCli(['--records', 'r', '--model', 'm', '--out', 'o'])).toThrow('Missing --explanations.');
  });
});
