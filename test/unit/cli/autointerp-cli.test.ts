/**
 * `npm run autointerp` (scripts/autointerp-cli.ts): records, explanations and scores of the tiny delphi
 * cache in one command into one folder, against the LLM stand-in running in this process (the command
 * is spawned asynchronously; its three stages run inside it, through the other commands' `main`).
 * Checked: every stage's files, metrics.json keyed by "<hook>:<f>" (the cache has two hooks) with
 * figures equal to those counted here from the score files, usage of both paid stages equal to the
 * server's log, a rerun that rebuilds and asks nothing, flags routed to the right stage, bad usage
 * refused before anything runs, and the key in no output.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { main, planCli } from '../../../scripts/autointerp-cli.ts';
import type { RunJson, ScoreRunJson } from '../../../scripts/run-files.ts';
import { startLlmServer, type LlmServer, type RecordedRequest } from '../../../scripts/servers/llm-server.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const CLI = join(ROOT, 'scripts/autointerp-cli.ts');
const TINY = join(ROOT, 'test/fixtures/delphi/tiny');
const TOKENIZER_DIR = join(ROOT, 'test/fixtures/hub/autointerp-test/tiny-gpt2');
const KEY = 'sk-or-v1-autointerp-cli-test-0c4d7f1e';
const MODEL = 'stand-in/explainer';
/** What makes features of the tiny cache (4 rows of 8 tokens) qualify and keep a test example. */
const TINY_FLAGS = ['--example-ctx', '4', '--min-examples', '1', '--quantiles', '1', '--non-activating', '3'];

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'autointerp-cli-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string): string => join(scratch, `${name}-${counter++}`);

let server: LlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = { OPENROUTER_API_KEY: KEY }): Promise<CliRun> {
  const base = { ...process.env };
  delete base.OPENROUTER_API_KEY;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...base, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function inProcess(args: string[], env: Record<string, string> = { OPENROUTER_API_KEY: KEY }): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { log: (line) => (stdout += `${line}\n`), info: (line) => (stderr += `${line}\n`), env });
  return { code, stdout, stderr };
}

const chats = (requests: RecordedRequest[]): RecordedRequest[] => requests.filter((r) => r.method === 'POST' && r.path.endsWith('/chat/completions'));
const readJson = <T,>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));

interface Scored {
  activating: boolean;
  prediction: number | null;
}

/** Balanced accuracy and F1 of score records, counted here. */
function byHand(examples: Scored[]) {
  let tp = 0, fp = 0, tn = 0, fn = 0, failed = 0;
  for (const e of examples) {
    if (e.prediction === null) failed++;
    else if (e.activating) e.prediction >= 0.5 ? tp++ : fn++;
    else e.prediction >= 0.5 ? fp++ : tn++;
  }
  const ba = tp + fn > 0 && tn + fp > 0 ? (tp / (tp + fn) + tn / (tn + fp)) / 2 : null;
  const f1 = 2 * tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : null;
  return { balanced_accuracy: ba, f1, failed };
}

describe('npm run autointerp', () => {
  test('the tiny delphi cache end to end into one folder: records, explanations, scores, metrics; a rerun asks nothing', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const out = fresh('out');
    const args = ['--cache', TINY, '--out', out, '--model', MODEL, '--base-url', server.openRouterBase, '--scorers', 'detection,fuzzing,simulation', '--tokenizer', TOKENIZER_DIR, '--concurrency', '4', ...TINY_FLAGS];
    const run = await cli(args);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^autointerp 1\/3: records of .* into .*records$/m);
    expect(run.stdout).toMatch(/^autointerp 2\/3: explanations into /m);
    expect(run.stdout).toMatch(/^autointerp 3\/3: scores into /m);
    expect(run.stdout).toMatch(/^autointerp: done; .*metrics\.json holds detection, fuzzing, simulation$/m);

    // Records of both hooks, an explanation of each, run files of each stage.
    expect(list(out)).toEqual(['autointerp.json', 'explanations', 'metrics.json', 'records', 'run.inputs.json', 'run.json', 'run.usage.jsonl', 'score-run.inputs.json', 'score-run.json', 'score-run.usage.jsonl', 'scores']);
    expect(list(join(out, 'records'))).toEqual(['layers.2', 'layers.5']);
    const records = ['layers.2', 'layers.5'].flatMap((hook) => list(join(out, 'records', hook)).map((name) => ({ hook, feature: Number(/^latent(\d+)\.json$/.exec(name)![1]), record: readJson<{ test: unknown[] }>(join(out, 'records', hook, name)) })));
    expect(records.length).toBeGreaterThan(4);
    expect(list(join(out, 'explanations'))).toEqual(records.map((r) => `${r.hook}_latent${r.feature}.txt`).sort());
    const explain = readJson<RunJson>(join(out, 'run.json'));
    expect(explain).toMatchObject({ features: records.length, explained: records.length, failed: 0 });

    // Scores: every feature with a test example has a score file; the others are listed as failed for that reason (never scored).
    const scoreRun = readJson<ScoreRunJson>(join(out, 'score-run.json'));
    const scorable = records.filter((r) => r.record.test.length > 0);
    expect(scorable.length).toBeGreaterThan(0);
    for (const scorer of ['detection', 'fuzzing', 'simulation']) {
      expect(list(join(out, 'scores', scorer))).toEqual(scorable.map((r) => `${r.hook}_latent${r.feature}.txt`).sort());
      const failed = scoreRun.failures.filter((f) => f.scorer === scorer);
      expect(failed.map((f) => `${f.hook}:${f.feature}`).sort()).toEqual(records.filter((r) => r.record.test.length === 0).map((r) => `${r.hook}:${r.feature}`).sort());
      for (const f of failed) expect(f.code).toBe('score/no-examples');
    }

    // metrics.json: the cache has two hooks, so features are "<hook>:<f>"; figures are the files'.
    const metrics = readJson<Record<string, { pooled: Record<string, number | null>; per_feature: Record<string, Record<string, number | null>> }>>(join(out, 'metrics.json'));
    expect(Object.keys(metrics)).toEqual(['detection', 'fuzzing', 'simulation']);
    for (const scorer of ['detection', 'fuzzing']) {
      const entry = metrics[scorer]!;
      expect(Object.keys(entry.per_feature).sort()).toEqual(scorable.map((r) => `${r.hook}:${r.feature}`).sort());
      expect(Object.keys(entry.pooled).slice(0, 6)).toEqual(['balanced_accuracy', 'precision', 'recall', 'f1', 'auc', 'failed']);
      const all: Scored[] = [];
      for (const r of scorable) {
        const examples = readJson<Scored[]>(join(out, 'scores', scorer, `${r.hook}_latent${r.feature}.txt`));
        all.push(...examples);
        expect(entry.per_feature[`${r.hook}:${r.feature}`]).toMatchObject(byHand(examples));
      }
      expect(entry.pooled).toMatchObject(byHand(all));
      expect(entry.pooled.auc).toBeNull();
    }
    expect(Object.keys(metrics.simulation!.pooled)[0]).toBe('pearson');

    // Both paid stages together cost what the server logged, to the token.
    const logged = server.requests.filter((r) => r.usage).map((r) => r.usage!);
    expect(explain.usage.prompt_tokens + scoreRun.usage.prompt_tokens).toBe(logged.reduce((n, u) => n + u.prompt_tokens, 0));
    expect(explain.usage.cost + scoreRun.usage.cost).toBe(logged.reduce((n, u) => n + (u.cost ?? 0), 0));
    expect(explain.usage.calls + scoreRun.usage.calls).toBe(chats(server.requests).length);
    for (const request of server.requests) expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(run.stdout + run.stderr).not.toContain(KEY);
    for (const path of walk(out)) expect(readFileSync(path, 'utf8'), path).not.toContain(KEY);

    // The same command again: records kept, nothing explained or scored again.
    const recordTimes = walk(join(out, 'records')).map((path) => statSync(path).mtimeMs);
    const before = server.requests.length;
    const again = await inProcess(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already written with these settings .*; not rebuilt/);
    expect(again.stdout).toMatch(new RegExp(`all ${records.length} features are explained already`));
    expect(chats(server.requests.slice(before))).toHaveLength(0);
    expect(walk(join(out, 'records')).map((path) => statSync(path).mtimeMs)).toEqual(recordTimes);
    expect(readJson<ScoreRunJson>(join(out, 'score-run.json'))).toMatchObject({ runs: 2, usage: scoreRun.usage });
    expect(readJson(join(out, 'metrics.json'))).toEqual(metrics);

    // Other records settings into the same folder are refused (its explanations are of these records).
    const other = await inProcess([...args, '--seed', '5']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/holds explanations of records built with other settings/);
  });

  test('bad usage is refused before anything runs: a stage\'s flag, --key, no key for a remote host', async () => {
    server = await startLlmServer();
    const out = fresh('out');
    const base = ['--cache', TINY, '--out', out, '--model', MODEL, '--base-url', server.openAiBase, '--tokenizer', TOKENIZER_DIR, ...TINY_FLAGS];
    const cases: [string[], RegExp][] = [
      [['--explainer', 'fancy'], /^--explainer: "fancy" is not one of default, cot, contrastive/m],
      [['--scorers', 'magic'], /^--scorers: "magic" is not one of/m],
      [['--train-type', 'best'], /^--train-type: "best" is not one of quantiles, top, random, mix/m],
      [['--key', KEY], /^--key is refused/m],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    for (const [extra, message] of cases) {
      const run = await inProcess([...base, ...extra], {});
      expect(run.code, extra.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toMatch(/^Usage: npm run autointerp/m);
      expect(run.stderr).not.toContain(KEY);
    }
    const remote = await inProcess(['--cache', TINY, '--out', out, '--model', MODEL, '--tokenizer', TOKENIZER_DIR, ...TINY_FLAGS], {});
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/^No API key: openrouter\.ai needs one/m);
    expect(existsSync(out)).toBe(false);
    expect(server.requests).toEqual([]);
  });

  test('a budget spent by explaining stops before scoring, with exit 1', async () => {
    server = await startLlmServer({ keys: [KEY] });
    const out = fresh('out');
    const run = await inProcess(['--cache', TINY, '--out', out, '--model', MODEL, '--base-url', server.openRouterBase, '--tokenizer', TOKENIZER_DIR, '--concurrency', '1', '--budget', '0.001', ...TINY_FLAGS]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/stopped: The budget of \$0\.001\d* is spent/);
    expect(run.stdout).not.toMatch(/autointerp 3\/3/);
    expect(existsSync(join(out, 'scores'))).toBe(false);
  });
});

describe('planCli', () => {
  test('routes each flag to its stage; the tokenizer defaults to the cache\'s model', () => {
    const plan = planCli(['--cache', TINY, '--out', '/tmp/x', '--model', 'm', '--base-url', 'http://127.0.0.1:1/v1', '--seed', '7', '--logprobs', '--explainer', 'cot', '--scorers', 'simulation', '--features', '0-9', '--min-examples', '3', '--budget', '2', '--examples-shown', '4', '--skip-bos']);
    expect(plan.records).toEqual(['--cache', TINY, '--out', '/tmp/x/records', '--features', '0-9', '--min-examples', '3', '--skip-bos', '--seed', '7']);
    expect(plan.explain).toEqual(['--records', '/tmp/x/records', '--model', 'm', '--out', '/tmp/x', '--explainer', 'cot', '--base-url', 'http://127.0.0.1:1/v1', '--tokenizer', 'autointerp-test/tiny-gpt2']);
    expect(plan.score).toEqual(['--records', '/tmp/x/records', '--explanations', '/tmp/x', '--model', 'm', '--out', '/tmp/x', '--scorers', 'simulation', '--examples-shown', '4', '--base-url', 'http://127.0.0.1:1/v1', '--tokenizer', 'autointerp-test/tiny-gpt2', '--seed', '7', '--logprobs']);
    expect(plan.budget).toBe(2);
    expect(plan.tokenizerNote).toMatch(/the tokenizer of autointerp-test\/tiny-gpt2 \(the cache's config\.json/);
  });
});
