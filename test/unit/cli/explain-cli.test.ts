/**
 * `npm run explain` (scripts/explain-cli.ts), spawned as a command against the LLM stand-in running in
 * this process (so the command runs asynchronously: a synchronous spawn would block the server it
 * calls). Records are written here in the shape `npm run records` writes, with token ids of the tiny
 * test GPT-2 and its tokenizer. Checked: the files and their JSON-string content, run.json's fields and
 * its token and cost sums against the server's own log, resuming (after Ctrl-C too) without asking a
 * done feature again, faults, a refused key, the budget, and where the key goes (the stand-in's
 * Authorization header, and nowhere else: not the tokenizer's hub, run.json, stdout or stderr).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { main, parseCli } from '../../../scripts/explain-cli.ts';
import type { RunJson } from '../../../scripts/run-files.ts';
import { main as autointerpMain } from '../../../scripts/autointerp-cli.ts';
import { main as scoreMain } from '../../../scripts/score-cli.ts';
import { startLlmServer, type LlmServer, type RecordedRequest } from '../../../scripts/servers/llm-server.ts';
import { startStaticServer, type StaticServer } from '../../../scripts/servers/static-server.ts';
import { tokenizerFromJson, type Example, type FeatureRecord } from '../../../src/lib/index.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const CLI = join(ROOT, 'scripts/explain-cli.ts');
const TOKENIZER_DIR = join(ROOT, 'test/fixtures/hub/autointerp-test/tiny-gpt2');
const KEY = 'sk-or-v1-explain-cli-test-5f0e2a9c7d41';
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
  ['He wrote a long letter about the', 'last week.'],
];
const QUIET = ['Prices rose sharply in the second quarter.', 'The committee will meet again on Tuesday.', 'Rain is expected over the weekend.'];

/** An example whose feature fires on `word`'s tokens (value `value`), 0 elsewhere; ids of the tiny GPT-2. */
function example(before: string, word: string, after: string, value: number, quantile: number, row: number): Example {
  const parts = [tokenizer.encode(before), word ? tokenizer.encode(` ${word}`) : [], tokenizer.encode(after ? ` ${after}` : '')];
  const tokens = parts.flat();
  const activations = [...parts[0]!.map(() => 0), ...parts[1]!.map(() => value), ...parts[2]!.map(() => 0)];
  return { row, start: 0, tokens, activations, normalized: activations.map((a) => Math.round(a)), quantile };
}

function record(hook: string, feature: number): FeatureRecord {
  const word = TOPICS[feature % TOPICS.length]!;
  const train = SENTENCES.map(([before, after], i) => example(before, word, after, 10 - i, Math.floor(i / 2), i));
  return {
    feature,
    hook,
    n_activations: 60,
    n_windows: 6,
    max_activation: 10,
    train,
    test: train.slice(0, 2),
    non_activating: QUIET.map((text, i) => example(text, '', '', 0, -1, 100 + i)),
  };
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'explain-cli-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
const fresh = (name: string): string => {
  const dir = join(scratch, `${name}-${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** `<dir>/<hook>/latent<f>.json` as `npm run records` writes them. */
function writeRecords(features: Record<string, number[]>): string {
  const dir = fresh('records');
  for (const [hook, list] of Object.entries(features)) {
    mkdirSync(join(dir, hook), { recursive: true });
    for (const feature of list) writeFileSync(join(dir, hook, `latent${feature}.json`), JSON.stringify(record(hook, feature)));
  }
  return dir;
}

const explanationFiles = (out: string): string[] => (existsSync(join(out, 'explanations')) ? readdirSync(join(out, 'explanations')).sort() : []);
const readRun = (out: string): RunJson => JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunJson;
/** The sum of run.usage.jsonl, the journal of every call's usage. */
const journalTotals = (out: string) =>
  readFileSync(join(out, 'run.usage.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, number>)
    .reduce((sum, u) => ({ calls: sum.calls + u.calls!, prompt_tokens: sum.prompt_tokens + u.prompt_tokens!, completion_tokens: sum.completion_tokens + u.completion_tokens!, cost: sum.cost + u.cost! }), { calls: 0, prompt_tokens: 0, completion_tokens: 0, cost: 0 });
const expectedExplanation = (feature: number): string => `the word "${TOPICS[feature % TOPICS.length]}"`;

/** The environment of a spawned command: this one's, without any real key, plus `extra`. */
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

const chats = (requests: RecordedRequest[]): RecordedRequest[] => requests.filter((r) => r.method === 'POST' && r.path.endsWith('/chat/completions'));

/** What the server logged it sent, summed. */
function logged(requests: RecordedRequest[]) {
  const usages = requests.filter((r) => r.usage).map((r) => r.usage!);
  const sum = (key: 'prompt_tokens' | 'completion_tokens' | 'cost') => usages.reduce((a, u) => a + (u[key] ?? 0), 0);
  return { prompt_tokens: sum('prompt_tokens'), completion_tokens: sum('completion_tokens'), cost: sum('cost') };
}

function expectNoKey(run: CliRun, out?: string): void {
  expect(run.stdout).not.toContain(KEY);
  expect(run.stderr).not.toContain(KEY);
  if (out && existsSync(join(out, 'run.json'))) expect(readFileSync(join(out, 'run.json'), 'utf8')).not.toContain(KEY);
}

/** Every explanation file holds its feature's explanation as a JSON string; none is also listed as failed. */
function expectExplanations(out: string, run: RunJson): void {
  for (const name of explanationFiles(out)) {
    const [, hook, feature] = /^(.+)_latent(\d+)\.txt$/.exec(name)!;
    const text = readFileSync(join(out, 'explanations', name), 'utf8');
    expect(text).toBe(JSON.stringify(expectedExplanation(Number(feature))));
    expect(JSON.parse(text)).toBe(expectedExplanation(Number(feature)));
    expect(run.failures.some((f) => f.hook === hook && f.feature === Number(feature))).toBe(false);
  }
}

let server: LlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('npm run explain', () => {
  test('explains every record into delphi layout; run.json sums equal the server log; the key goes to the stand-in only', async () => {
    server = await startLlmServer({ keys: [KEY] });
    // The tokenizer from a stand-in hub, whose requests' headers are kept: the key must not reach it.
    const hub: StaticServer = await startStaticServer([{ prefix: '/', root: join(ROOT, 'test/fixtures/hub'), hubLayout: true }]);
    const hubHeaders: IncomingHttpHeaders[] = [];
    hub.server.on('request', (request) => hubHeaders.push(request.headers));
    try {
      const records = writeRecords({ [HOOK_A]: [0, 1, 2, 3, 4], [HOOK_B]: [0, 1] });
      const out = fresh('out');
      const run = await cli(['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--concurrency', '3', '--tokenizer', 'autointerp-test/tiny-gpt2', '--hub', hub.url]);
      expect(run.stderr).not.toMatch(/warning/);
      expect(run.code, run.stderr).toBe(0);

      // delphi's layout: one JSON string per feature, named by hook and feature (the same feature in two hooks: two files).
      expect(explanationFiles(out)).toEqual([...[0, 1, 2, 3, 4].map((f) => `${HOOK_A}_latent${f}.txt`), ...[0, 1].map((f) => `${HOOK_B}_latent${f}.txt`)].sort());
      const json = readRun(out);
      expectExplanations(out, json);
      expect(readFileSync(join(out, 'explanations', `${HOOK_A}_latent1.txt`), 'utf8')).toBe('"the word \\"river\\""');

      expect(json).toMatchObject({ model: MODEL, base_url: server.openRouterBase, explainer: 'default', concurrency: 3, budget: null, features: 7, explained: 7, succeeded: 7, failed: 0, skipped: 0, not_done: 0, runs: 1, failures: [] });
      expect(json.stopped).toBeUndefined();
      expect(json.settings).toMatchObject({ threshold: 0.3, activation_values: false, max_tokens: 300 });
      expect(Date.parse(json.finished_at!)).toBeGreaterThanOrEqual(Date.parse(json.started_at));
      // Exact sums: what run.json says = what the server says it sent (costs are powers of two: exact in any order).
      const sums = logged(server.requests);
      expect(json.usage).toMatchObject(sums);
      expect(json.usage_this_run).toMatchObject({ ...sums, calls: 7, attempts: 7, uncosted_calls: 0, estimated_cost: 0 });
      expect(json.usage.cost).toBeGreaterThan(0);
      // The estimate came from the endpoint's prices, and is near what the run cost.
      expect(run.stdout).toMatch(/^estimate: 7 features x about [\d,]+ prompt \+ 40 answer tokens = [\d,]+ prompt \+ 280 completion tokens; cost about \$[\d.e-]+ \(prices of stand-in\/explainer from 127\.0\.0\.1:\d+\/models: \$0\.9537\/M prompt, \$1\.907\/M completion tokens\)$/m);
      expect(json.estimate.cost).toBeGreaterThan(json.usage.cost * 0.5);
      expect(json.estimate.cost).toBeLessThan(json.usage.cost * 2);
      expect(run.stdout).toMatch(/^done: 7 features explained, 0 failed, 0 skipped/m);
      expect(run.stderr).toMatch(/Explained 7 of 7 features/);

      // One call per feature, plus the model list; each carried the key, and only the stand-in saw it.
      expect(chats(server.requests)).toHaveLength(7);
      expect(server.requests.filter((r) => r.path === '/api/v1/models')).toHaveLength(1);
      for (const request of server.requests) expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(hub.requests.some((path) => path.endsWith('/tokenizer.json'))).toBe(true);
      expect(hubHeaders.length).toBeGreaterThan(0);
      for (const headers of hubHeaders) {
        expect(headers.authorization).toBeUndefined();
        expect(JSON.stringify(headers)).not.toContain(KEY);
      }
      expect(run.stdout).toContain('key: from $OPENROUTER_API_KEY, sent only to 127.0.0.1:');
      expectNoKey(run, out);
    } finally {
      await hub.close();
    }
  });

  test('Ctrl-C stops cleanly with run.json written; a rerun asks only the features not done and adds the usage up', async () => {
    server = await startLlmServer({ keys: [KEY], latencyMs: 250 });
    const records = writeRecords({ [HOOK_A]: Array.from({ length: 12 }, (_, f) => f) });
    const out = fresh('out');
    const args = ['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--concurrency', '2', '--tokenizer', TOKENIZER_DIR];
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: envWith({ OPENROUTER_API_KEY: KEY }) });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    await expect.poll(() => explanationFiles(out).length, { timeout: 60_000, interval: 25 }).toBeGreaterThanOrEqual(3);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    const first = readRun(out);
    const done = explanationFiles(out).length;
    expect(done).toBeGreaterThanOrEqual(3);
    expect(done).toBeLessThan(12);
    expect(first).toMatchObject({ succeeded: done, explained: done, failed: 0, not_done: 12 - done, stopped: { code: 'cancelled' } });
    expect(first.stopped!.message).toMatch(/Stopped by Ctrl-C after \d+ features explained in this run; rerun the same command to go on\./);
    expect(first.finished_at).not.toBeNull();
    expect(stderr).toMatch(/stopped: Stopped by Ctrl-C/);
    expectNoKey({ code: 130, stdout, stderr }, out);
    // What the stopped run paid for is in its run.json. A call the server answered in the moment Ctrl-C
    // aborted it cannot be counted (its answer never arrived): at most the 2 calls in flight.
    const paid = logged(server.requests);
    const answered = server.requests.filter((r) => r.usage).length;
    expect(first.usage.calls).toBeGreaterThanOrEqual(answered - 2);
    expect(first.usage.calls).toBeLessThanOrEqual(answered);
    if (first.usage.calls === answered) expect(first.usage).toMatchObject(paid);
    else expect(first.usage.prompt_tokens).toBeLessThan(paid.prompt_tokens);

    const before = server.requests.length;
    server.setLatency(0);
    const rerun = await cli(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    const asked = chats(server.requests.slice(before));
    expect(asked).toHaveLength(12 - done);
    expect(rerun.stdout).toContain(`resuming ${out}: ${done} features already explained (not asked again), ${12 - done} to go`);
    const second = readRun(out);
    expect(second).toMatchObject({ features: 12, explained: 12, succeeded: 12 - done, skipped: done, failed: 0, not_done: 0, runs: 2 });
    expect(second.stopped).toBeUndefined();
    expect(second.usage_this_run).toMatchObject(logged(server.requests.slice(before)));
    expect(second.usage.prompt_tokens).toBe(first.usage.prompt_tokens + second.usage_this_run.prompt_tokens);
    expect(second.usage.completion_tokens).toBe(first.usage.completion_tokens + second.usage_this_run.completion_tokens);
    expect(second.usage.calls).toBe(12);
    expectExplanations(out, second);
    expect(explanationFiles(out)).toHaveLength(12);

    // Everything done: nothing is asked, the usage stays.
    const third = await cli(args);
    expect(third.code, third.stderr).toBe(0);
    expect(chats(server.requests.slice(before))).toHaveLength(12 - done);
    expect(readRun(out)).toMatchObject({ skipped: 12, succeeded: 0, runs: 3, usage: second.usage });
  });

  /** The processes whose command line names `text` (a run's --out folder: the command and its launchers). */
  const processesNaming = (text: string): number[] =>
    readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text) ? [Number(pid)] : [];
      } catch {
        return []; // gone meanwhile
      }
    });

  test.each([
    { launcher: 'npm run explain', signal: 'SIGTERM', code: 143, by: 'SIGTERM' },
    { launcher: 'npm run explain', signal: 'SIGINT', code: 130, by: 'Ctrl-C' },
    { launcher: 'npx tsx', signal: 'SIGTERM', code: 143, by: 'SIGTERM' },
  ] as const)('$signal sent to the process the user started ($launcher) stops the run: run.json says so, no process is left', async ({ launcher, signal, code, by }) => {
    server = await startLlmServer({ keys: [KEY], latencyMs: 250 });
    const records = writeRecords({ [HOOK_A]: Array.from({ length: 12 }, (_, f) => f) });
    const out = fresh('out');
    const args = ['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--concurrency', '2', '--tokenizer', TOKENIZER_DIR];
    const [command, ...prefix] = launcher === 'npx tsx' ? ['npx', 'tsx', CLI] : ['npm', 'run', '--silent', 'explain', '--'];
    const started = spawn(command!, [...prefix, ...args], { cwd: ROOT, env: envWith({ OPENROUTER_API_KEY: KEY }) });
    let stderr = '';
    started.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The exit status a shell reports: the code, or 128 + the signal's number for a process ended by one.
    const exited = new Promise<number | null>((done) => started.on('exit', (exitCode, killedBy) => done(exitCode ?? (killedBy ? 128 + constants.signals[killedBy] : null))));
    await expect.poll(() => explanationFiles(out).length, { timeout: 60_000, interval: 25 }).toBeGreaterThanOrEqual(2);
    // The calls from now on wait 5 s: once those under way have been answered (250 ms), no answer is on its way when the signal comes.
    server.setLatency(5000);
    await new Promise((done) => setTimeout(done, 600));
    started.kill(signal);
    expect(await exited, stderr).toBe(code);
    // The command itself (under npx, below a shell and tsx that do not pass the signal on) ends too.
    await expect.poll(() => processesNaming(out), { timeout: 30_000, interval: 50 }).toEqual([]);
    const run = readRun(out);
    const done = explanationFiles(out).length;
    expect(done).toBeLessThan(12);
    expect(run).toMatchObject({ succeeded: done, not_done: 12 - done, stopped: { code: 'cancelled' } });
    expect(run.stopped!.message).toMatch(new RegExp(`^Stopped by ${by} after \\d+ features explained in this run; rerun the same command to go on\\.`));
    expect(run.finished_at).not.toBeNull();
    // What it was charged for is in run.json and in the journal beside it: every call the stand-in answered, exactly.
    const answered = server.requests.filter((r) => r.usage);
    expect(run.usage.calls).toBe(answered.length);
    expect(run.usage).toMatchObject(logged(answered));
    expect(journalTotals(out)).toMatchObject({ calls: answered.length, ...logged(answered) });
    // And no call is made after the stop.
    const asked = server.requests.length;
    await new Promise((done) => setTimeout(done, 600));
    expect(server.requests.length).toBe(asked);
  });

  test('a kill -9 mid-run loses no usage: the journal has every answered call, and the rerun counts it', async () => {
    server = await startLlmServer({ keys: [KEY], latencyMs: 150 });
    const records = writeRecords({ [HOOK_A]: Array.from({ length: 12 }, (_, f) => f) });
    const out = fresh('out');
    const args = ['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--concurrency', '3', '--tokenizer', TOKENIZER_DIR];
    const started = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: envWith({ OPENROUTER_API_KEY: KEY }) });
    const exited = new Promise((done) => started.on('exit', done));
    await expect.poll(() => explanationFiles(out).length, { timeout: 60_000, interval: 25 }).toBeGreaterThanOrEqual(3);
    server.setLatency(5000);
    await new Promise((done) => setTimeout(done, 500));
    started.kill('SIGKILL'); // no handler runs: run.json is as its last checkpoint left it
    await exited;
    const answered = server.requests.filter((r) => r.usage);
    expect(journalTotals(out)).toMatchObject({ calls: answered.length, ...logged(answered) });

    server.setLatency(0);
    const rerun = await cli(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    const all = server.requests.filter((r) => r.usage);
    expect(readRun(out).usage).toMatchObject({ calls: all.length, ...logged(all) });
    expect(readRun(out).usage_this_run.calls).toBe(all.length - answered.length);
    expect(explanationFiles(out)).toHaveLength(12);
  });

  test('with faults on 40% of requests every feature ends explained or listed as failed, and the sums still match', async () => {
    server = await startLlmServer({ keys: [KEY], retryAfterSeconds: 0 });
    server.setFaults({ rate: 0.4, seed: 5 });
    const features = Array.from({ length: 16 }, (_, f) => f);
    const records = writeRecords({ [HOOK_A]: features });
    const out = fresh('out');
    const run = await cli(['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--timeout', '2', '--attempts', '3']);
    expect(run.code, run.stderr).toBe(0);
    const json = readRun(out);
    const explained = explanationFiles(out).map((name) => Number(/_latent(\d+)\.txt$/.exec(name)![1]));
    const failed = json.failures.map((f) => f.feature);
    expect([...explained, ...failed].sort((a, b) => a - b)).toEqual(features);
    expect(failed.length).toBeGreaterThan(0);
    expect(explained.length).toBeGreaterThan(failed.length);
    expectExplanations(out, json);
    expect(json).toMatchObject({ succeeded: explained.length, failed: failed.length, not_done: 0 });
    expect(json.stopped).toBeUndefined();
    for (const failure of json.failures) {
      expect(failure.hook).toBe(HOOK_A);
      expect(['explanation/missing', 'explanation/empty', 'llm/truncated', 'llm/server', 'llm/rate-limited', 'llm/timeout', 'llm/bad-response', 'llm/empty']).toContain(failure.code);
      expect(failure.message.length).toBeGreaterThan(10);
    }
    const faults = chats(server.requests).filter((r) => r.fault);
    expect(faults.length).toBeGreaterThan(4);
    expect(json.usage.attempts).toBeGreaterThan(json.usage.calls); // retries happened
    expect(json.usage).toMatchObject(logged(server.requests));
    expect(run.stdout).toMatch(new RegExp(`${failed.length} features? failed \\(run.json lists each with the reason\\); rerun`));
    expectNoKey(run, out);
  });

  test('a refused key (401) stops the run at once with a clear message and exit 1', async () => {
    server = await startLlmServer({ keys: ['sk-the-right-one'] });
    const records = writeRecords({ [HOOK_A]: Array.from({ length: 10 }, (_, f) => f) });
    const out = fresh('out');
    const run = await cli(['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--concurrency', '2']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/stopped: The run stopped after 0 of 10 features: 127\.0\.0\.1:\d+ refused the API key \(401: "Missing or unknown API key\."\)\. Check the key/);
    const json = readRun(out);
    expect(json.stopped?.code).toBe('llm/unauthorized');
    expect(json).toMatchObject({ succeeded: 0, explained: 0, not_done: 10 });
    expect(explanationFiles(out)).toEqual([]);
    expect(chats(server.requests).length).toBeLessThanOrEqual(2);
    expectNoKey(run, out);

    // An endpoint that is not there: every feature fails, which is the endpoint's fault, not the features'.
    const gone = await startLlmServer();
    await gone.close();
    const nowhere = await cli(['--records', records, '--base-url', gone.openAiBase, '--model', MODEL, '--out', fresh('out'), '--tokenizer', TOKENIZER_DIR, '--attempts', '1'], {});
    expect(nowhere.code).toBe(1);
    expect(nowhere.stdout).toMatch(/cost unknown \(127\.0\.0\.1:\d+\/models did not answer \(\[llm\/network\] Could not reach/);
    expect(nowhere.stderr).toMatch(/^no feature was explained: all 10 tried failed \(listed in run\.json\); the first: \[llm\/network\] Could not reach 127\.0\.0\.1:\d+/m);
  });

  test('the budget stops the run and is counted over resumed runs', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const records = writeRecords({ [HOOK_A]: Array.from({ length: 10 }, (_, f) => f) });
    const out = fresh('out');
    const args = ['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--concurrency', '1', '--budget', '0.001'];
    const run = await cli(args);
    expect(run.code).toBe(1);
    const json = readRun(out);
    expect(json.stopped?.code).toBe('llm/budget');
    expect(run.stderr).toMatch(/stopped: The budget of \$0\.001 is spent .* Raise --budget to go on\./);
    expect(json.succeeded).toBeGreaterThan(0);
    expect(json.succeeded).toBeLessThan(10);
    expect(json.usage.cost).toBeGreaterThanOrEqual(0.001);
    expect(explanationFiles(out)).toHaveLength(json.succeeded);
    // The same budget again: spent already, so no call goes out.
    const before = server.requests.length;
    const again = await cli(args);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/stopped: The budget of \$0\.001 is spent \(\$[\d.]+ by earlier runs/);
    expect(chats(server.requests.slice(before))).toHaveLength(0);
    expect(readRun(out).usage).toMatchObject(logged(server.requests));
  });

  test.each([
    ['a negative cost and negative tokens', (u: { prompt_tokens: number; cost?: number }) => ({ ...u, prompt_tokens: -u.prompt_tokens, cost: -(u.cost ?? 0) })],
    ['1e308 tokens and dollars', () => ({ prompt_tokens: 1e308, completion_tokens: 1e308, cost: 1e308 })],
  ])('an endpoint reporting %s cannot get past --budget, and the totals stay plain numbers', async (_, report) => {
    server = await startLlmServer({ keys: [KEY], reportUsage: report });
    const records = writeRecords({ [HOOK_A]: Array.from({ length: 10 }, (_, f) => f) });
    const out = fresh('out');
    const run = await cli(['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR, '--concurrency', '1', '--budget', '0.001']);
    expect(run.code, run.stderr).toBe(1);
    const json = readRun(out);
    expect(json.stopped?.code).toBe('llm/budget');
    expect(json.succeeded).toBeGreaterThan(0);
    expect(json.succeeded).toBeLessThan(10);
    // Each answered call: uncosted, its tokens estimated from the text, priced at the model's listed prices.
    const calls = chats(server.requests).length;
    expect(json.usage).toMatchObject({ calls, uncosted_calls: calls, untrusted_calls: calls, cost: 0 });
    expect(json.usage.estimated_cost).toBeGreaterThanOrEqual(0.001);
    expect(json.usage.estimated_cost).toBeLessThan(0.01);
    for (const figure of [json.usage.prompt_tokens, json.usage.completion_tokens]) expect(figure > 0 && figure < 1e6).toBe(true);
    expect(run.stderr).toMatch(new RegExp(`warning: ${calls} answers from 127\\.0\\.0\\.1:\\d+ reported usage that cannot be right .*at the model's listed prices, against the budget too\\.`));
    expect(run.stdout + run.stderr).not.toMatch(/\d{20}/); // no 300-digit figure anywhere
  });

  test('--key is refused without echoing the key; no key is an error except for a server on this machine', async () => {
    server = await startLlmServer();
    const records = writeRecords({ [HOOK_A]: [0, 1] });
    const base = ['--records', records, '--model', MODEL, '--tokenizer', TOKENIZER_DIR];
    for (const flag of [['--key', KEY], [`--key=${KEY}`], ['--api-key', KEY]]) {
      const run = await cli([...base, '--base-url', server.openRouterBase, '--out', fresh('out'), ...flag]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^--(api-)?key is refused: a key given on the command line stays in the shell's history and shows in the process list \(ps\).*export OPENROUTER_API_KEY=\.\.\..*--key-env NAME/m);
      expectNoKey(run);
    }
    const mistaken = await cli([...base, '--base-url', server.openRouterBase, '--out', fresh('out'), '--key-env', KEY]);
    expect(mistaken.code).toBe(2);
    expect(mistaken.stderr).toMatch(/--key-env takes the name of an environment variable/);
    expectNoKey(mistaken);
    expect(server.requests).toEqual([]);

    // No key for a remote host: refused before anything is sent.
    const remote = await cli([...base, '--base-url', 'https://openrouter.ai/api/v1', '--out', fresh('out')], {});
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/^No API key: openrouter\.ai needs one\. Put it in OPENROUTER_API_KEY .* --key-env NAME\. Only a server on this machine \(127\.0\.0\.1 or localhost\) may be used without a key\./m);
    const unset = await cli([...base, '--base-url', server.openAiBase, '--out', fresh('out'), '--key-env', 'EXPLAIN_TEST_UNSET'], {});
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/the environment variable EXPLAIN_TEST_UNSET is not set/);

    // A local OpenAI-compatible server without a key: no Authorization header, no prices, cost unknown.
    const out = fresh('out');
    const local = await cli([...base, '--base-url', server.openAiBase, '--out', out, '--explainer', 'cot'], {});
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toMatch(/key: none \(127\.0\.0\.1:\d+ is on this machine\)/);
    expect(local.stdout).toMatch(/cost unknown \(127\.0\.0\.1:\d+\/models lists no prices\)/);
    for (const request of server.requests) expect(request.headers.authorization).toBeUndefined();
    const json = readRun(out);
    expect(json).toMatchObject({ explainer: 'chain-of-thought', succeeded: 2, usage: { cost: 0, uncosted_calls: 2 } });
    expect(json.usage).toMatchObject({ prompt_tokens: logged(server.requests).prompt_tokens });
    // cot is the chain-of-thought prompt: the stand-in answered with its steps.
    expect(chats(server.requests).every((r) => JSON.stringify(r.body).includes('Step 1'))).toBe(true);
    expectExplanations(out, json);

    // --key-env names another variable; its key is sent.
    const named = await cli([...base, '--base-url', server.openRouterBase, '--out', fresh('out'), '--key-env', 'MY_LLM_KEY'], { MY_LLM_KEY: KEY });
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toContain('key: from $MY_LLM_KEY');
    expect(server.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);
    expectNoKey(named);
  });

  test('explaining other records of the same hook and features into an --out is refused, naming them; nothing is asked or overwritten', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const records = writeRecords({ [HOOK_A]: [0, 1, 2] });
    const out = fresh('out');
    const args = (dir: string) => ['--records', dir, '--base-url', server!.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR];
    expect((await cli(args(records))).code).toBe(0);
    const kept = explanationFiles(out).map((name) => readFileSync(join(out, 'explanations', name), 'utf8'));
    const asked = server.requests.length;
    // The same features from another cache: their records differ.
    const other = writeRecords({ [HOOK_A]: [0, 1, 2] });
    for (const feature of [0, 2]) writeFileSync(join(other, HOOK_A, `latent${feature}.json`), JSON.stringify({ ...record(HOOK_A, feature), n_activations: 61 }));
    const refused = await cli(args(other));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/holds results made from other inputs: the records of 2 features blocks\.6\.hook_resid_pre:0, blocks\.6\.hook_resid_pre:2 \(not those the stored results were made from\)\. Nothing was asked or written/);
    expect(server.requests.length).toBe(asked);
    expect(explanationFiles(out).map((name) => readFileSync(join(out, 'explanations', name), 'utf8'))).toEqual(kept);
    expect(readRun(out)).toMatchObject({ runs: 1, explained: 3 });
  });

  test('a resumed run with another model or explainer is refused; bad records are listed, not fatal', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const records = writeRecords({ [HOOK_A]: [0, 1, 2] });
    writeFileSync(join(records, HOOK_A, 'latent1.json'), '{"feature": 1, "hook": "');
    writeFileSync(join(records, HOOK_A, 'latent2.json'), JSON.stringify({ ...record(HOOK_A, 2), train: [{ tokens: [1, 2], activations: [1] }] }));
    const out = fresh('out');
    const args = ['--records', records, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR];
    const run = await cli(args);
    expect(run.code, run.stderr).toBe(0);
    const json = readRun(out);
    expect(json).toMatchObject({ succeeded: 1, failed: 2 });
    expect(json.failures.map((f) => [f.feature, f.code])).toEqual([[1, 'records/bad-record'], [2, 'records/bad-record']]);
    expect(json.failures[0]!.message).toMatch(/latent1\.json: not JSON/);
    expect(json.failures[1]!.message).toMatch(/latent2\.json: train\[0\]\.activations is not an array of 2 numbers/);

    const other = await cli([...args.slice(0, 4), '--model', 'stand-in/no-logprobs', ...args.slice(6)]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/holds results made from other inputs: --model \(was stand-in\/explainer, now stand-in\/no-logprobs\)\. Nothing was asked or written/);
    const contrastive = await cli([...args, '--explainer', 'contrastive']);
    expect(contrastive.code).toBe(2);
    expect(contrastive.stderr).toMatch(/other inputs: --explainer \(was default, now contrastive\)/);
  });
});

describe('parseCli', () => {
  const base = ['--records', 'r', '--base-url', 'http://127.0.0.1:1/v1', '--model', 'm', '--out', 'o'];
  test('defaults and explainer names', () => {
    expect(parseCli(base)).toMatchObject({ explainer: 'default', concurrency: 8, keyEnv: 'OPENROUTER_API_KEY', keyEnvGiven: false, tokenizer: 'openai-community/gpt2', hub: 'https://huggingface.co/', timeoutMs: 90_000, attempts: 5 });
    expect(parseCli(base).budget).toBeUndefined();
    expect(parseCli([...base, '--explainer', 'cot']).explainer).toBe('chain-of-thought');
    expect(parseCli([...base, '--explainer', 'contrastive', '--budget', '2.5', '--concurrency', '16']).budget).toBe(2.5);
    expect(parseCli(['--records', 'r', '--model', 'm', '--out', 'o']).baseUrl).toBe('https://openrouter.ai/api/v1');
  });
  test.each([
    [['--explainer', 'fancy'], /--explainer: "fancy" is not one of default, cot, contrastive/],
    [['--concurrency', '0'], /--concurrency: "0" is not a whole number of 1 or more/],
    [['--budget', 'ten'], /--budget: "ten" is not a number above 0/],
    [['--token', 'x'], /--token is refused/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
  ])('%j is refused', (extra, message) => {
    expect(() => parseCli([...base, ...extra])).toThrow(message);
  });
  test('a missing flag is named', () => {
    expect(() => parseCli(['--records', 'r', '--out', 'o'])).toThrow('Missing --model.');
  });
});

/** A command run in this process (for checks that end before any call: quick, and no child to spawn). */
async function inProcess(run: typeof main, args: string[], env: Record<string, string> = { OPENROUTER_API_KEY: KEY }): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { log: (line) => (stdout += `${line}\n`), info: (line) => (stderr += `${line}\n`), env });
  return { code, stdout, stderr };
}

describe('checks made before anything is asked of the network', () => {
  let server: LlmServer;
  beforeAll(async () => {
    server = await startLlmServer({ keys: [KEY] });
  });
  afterAll(() => server.close());

  const base = (out: string) => ['--records', writeRecords({ [HOOK_A]: [0, 1] }), '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR];
  const aFile = () => {
    const path = join(fresh('file'), 'out.txt');
    writeFileSync(path, 'not a folder');
    return path;
  };
  /** A tokenizer folder whose tokenizer.json cannot be read (it is a folder). */
  const unreadableTokenizer = () => {
    const dir = fresh('tokenizer');
    mkdirSync(join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), '{}');
    return dir;
  };

  const refusals: Record<string, { args: () => string[]; message: RegExp }> = {
    '--out is a file': { args: () => base(aFile()), message: /^--out: .*out\.txt is a file, not a folder/ },
    '--out cannot be written': { args: () => base('/proc/autointerp-out'), message: /^--out: cannot write in \/proc \(to make \/proc\/autointerp-out\) \(\w+\)/ },
    '--timeout under a second': { args: () => [...base(fresh('out')), '--timeout', '0.0001'], message: /^--timeout: 0\.0001 s is too short/ },
    '--hub not a URL': { args: () => [...base(fresh('out')), '--hub', 'hub.example'], message: /^--hub: "hub\.example" is not an http\(s\) URL/ },
    '--tokenizer unreadable': { args: () => [...base(fresh('out')), '--tokenizer', unreadableTokenizer()], message: /^--tokenizer: .*tokenizer\.json cannot be read \(EISDIR\)/ },
  };
  test.each(Object.keys(refusals))('explain: %s is refused, naming the flag, exit 2, and nothing is asked', async (name) => {
    const { args, message } = refusals[name]!;
    const before = server.requests.length;
    const run = await inProcess(main, args());
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(server.requests.length).toBe(before);
  });

  test('score: --out that is a file is refused before anything is asked', async () => {
    const explained = fresh('explained');
    mkdirSync(join(explained, 'explanations'));
    writeFileSync(join(explained, 'explanations', `${HOOK_A}_latent0.txt`), JSON.stringify('the word "cat"'));
    const before = server.requests.length;
    const run = await inProcess(scoreMain, ['--records', writeRecords({ [HOOK_A]: [0] }), '--explanations', explained, '--base-url', server.openRouterBase, '--model', MODEL, '--out', aFile(), '--tokenizer', TOKENIZER_DIR]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/^--out: .* is a file, not a folder/);
    expect(server.requests.length).toBe(before);
  });

  test('a key typed without a flag is refused and never repeated', async () => {
    const run = await inProcess(main, [...base(fresh('out')), KEY]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^Argument 11 is not a flag's value \(it is not repeated here, in case it is a key\)/);
    expectNoKey(run);
    const autointerp = await inProcess(autointerpMain, ['--cache', fresh('cache'), '--out', fresh('out'), '--model', MODEL, KEY]);
    expect(autointerp.code).toBe(2);
    expectNoKey(autointerp);
  });

  test('autointerp: a missing --cache and an unreadable --tokenizer are refused before records are written', async () => {
    const out = fresh('out');
    writeFileSync(join(out, 'autointerp.json'), JSON.stringify({ records_args: ['--cache', 'elsewhere'], records_done: true }));
    mkdirSync(join(out, 'explanations'));
    const missing = await inProcess(autointerpMain, ['--cache', join(scratch, 'no-such-cache'), '--out', out, '--model', MODEL, '--base-url', server.openRouterBase, '--tokenizer', TOKENIZER_DIR]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^--cache: .*no-such-cache does not exist/);
    const cache = fresh('cache');
    const fresher = fresh('out');
    const tokenizer = await inProcess(autointerpMain, ['--cache', cache, '--out', fresher, '--model', MODEL, '--base-url', server.openRouterBase, '--tokenizer', unreadableTokenizer()]);
    expect(tokenizer.code).toBe(2);
    expect(tokenizer.stderr).toMatch(/^--tokenizer: .*tokenizer\.json cannot be read/);
    expect(existsSync(join(fresher, 'records'))).toBe(false);
    const hub = await inProcess(autointerpMain, ['--cache', cache, '--out', fresh('out'), '--model', MODEL, '--hub', 'not a url']);
    expect(hub.code).toBe(2);
    expect(hub.stderr).toMatch(/^--hub: /);
  });

  test('record files and hook folders that are symbolic links are read', async () => {
    const real = writeRecords({ [HOOK_A]: [0, 1], [HOOK_B]: [2] });
    const linked = fresh('linked');
    symlinkSync(join(real, HOOK_A), join(linked, HOOK_A)); // a linked hook folder
    mkdirSync(join(linked, HOOK_B));
    symlinkSync(join(real, HOOK_B, 'latent2.json'), join(linked, HOOK_B, 'latent2.json')); // a linked record file
    const out = fresh('out');
    const run = await inProcess(main, ['--records', linked, '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR]);
    expect(run.code, run.stderr).toBe(0);
    expect(explanationFiles(out)).toEqual([`${HOOK_A}_latent0.txt`, `${HOOK_A}_latent1.txt`, `${HOOK_B}_latent2.txt`]);
  });

  test('the /models lookup gives up after --timeout, like every call', async () => {
    // An endpoint that takes connections and never answers.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const port = (silent.address() as { port: number }).port;
    try {
      const run = await inProcess(main, ['--records', writeRecords({ [HOOK_A]: [0] }), '--base-url', `http://127.0.0.1:${port}/v1`, '--model', MODEL, '--out', fresh('out'), '--tokenizer', TOKENIZER_DIR, '--timeout', '1', '--attempts', '1']);
      expect(run.stdout).toContain(`127.0.0.1:${port}/models did not answer ([llm/timeout] No answer from 127.0.0.1:${port} within 1 s.)`);
      // And the command speaks of itself, not of a page.
      expect(run.stdout + run.stderr).not.toMatch(/this page|CORS/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => silent.close(done));
    }
  });

  test('a network error from the command speaks of the command, not of a page', async () => {
    const silent = createServer();
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const port = (silent.address() as { port: number }).port;
    await new Promise((done) => silent.close(done)); // nothing listens there now
    const run = await inProcess(main, ['--records', writeRecords({ [HOOK_A]: [0] }), '--base-url', `http://127.0.0.1:${port}/v1`, '--model', MODEL, '--out', fresh('out'), '--tokenizer', TOKENIZER_DIR, '--attempts', '1']);
    expect(run.stdout + run.stderr).toMatch(/Could not reach 127\.0\.0\.1:\d+ \(.*\)\. Check the base URL and the connection\./);
    expect(run.stdout + run.stderr).not.toMatch(/this page|CORS/);
  });
});
