/**
 * What the LLM commands (explain, score) share besides the job runner: their flags (a key on the command
 * line refused and never repeated), the key from the environment, the record files `npm run records`
 * wrote, the tokenizer, the model's prices from the endpoint, and the figures they print and write.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { folderEntries, stopOf, UsageError, type CliIo } from './cli.ts';
import {
  createLlmClient,
  DEFAULT_CONCURRENCY,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_MS,
  describeError,
  errorCode,
  flavorOf,
  planJob,
  runJob,
  spentCost,
  type JobPlan,
  type JobProgress,
  type JobState,
  type JobStore,
  type JobWork,
  HUGGING_FACE_HUB,
  isRepoId,
  listModels,
  loadTokenizer,
  MAX_EXPLANATION_CHARS,
  normalizeBaseUrl,
  OPENROUTER_API,
  tokenizerFromJson,
  type Example,
  type FeatureRecord,
    type Pricing,
  type TextTokenizer,
  type UsageTotals,
} from '../src/lib/index.ts';

export const DEFAULT_KEY_ENV = 'OPENROUTER_API_KEY';
export const DEFAULT_TOKENIZER = 'openai-community/gpt2';

/** Bad usage: exit code 2, the message and the usage line. */
export interface LlmIo extends CliIo {
  /** Where the key is read from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** What every LLM command (explain, score) takes from its command line. */
export interface LlmCliOptions {
  records: string;
  baseUrl: string;
  model: string;
  out: string;
  concurrency: number;
  /** Dollars, over this run and the runs it resumes. */
  budget?: number;
  keyEnv: string;
  /** Whether --key-env was given (then the variable must be set). */
  keyEnvGiven: boolean;
  tokenizer: string;
  hub: string;
  timeoutMs: number;
  attempts: number;
  /** Longer explanations: explain records the feature as failed, score refuses it. */
  maxExplanationChars: number;
}

/** Flags that would put a key on the command line. */
const KEY_FLAGS = /^--(key|api-key|apikey|api_key|token)(=|$)/i;

/** The flags every LLM command takes, as node:util's parseArgs wants them. */
export const LLM_FLAGS = {
  records: { type: 'string' }, 'base-url': { type: 'string' }, model: { type: 'string' }, out: { type: 'string' },
  concurrency: { type: 'string' }, budget: { type: 'string' }, 'key-env': { type: 'string' }, tokenizer: { type: 'string' },
  hub: { type: 'string' }, timeout: { type: 'string' }, attempts: { type: 'string' }, 'max-explanation-chars': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** The command line read with `options`; a key on it is refused (and never repeated). Throws UsageError. */
export function readFlags<T extends ParseArgsOptionsConfig>(argv: readonly string[], options: T) {
  const keyFlag = argv.find((arg) => KEY_FLAGS.test(arg));
  if (keyFlag) {
    const flag = keyFlag.split('=')[0]!;
    throw new UsageError(
      `${flag} is refused: a key given on the command line stays in the shell's history and shows in the process list (ps) of everyone on this machine. Put it in the environment instead: export ${DEFAULT_KEY_ENV}=... (or another variable, named with --key-env NAME).`,
    );
  }
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options }).values;
  } catch (error) {
    // A word without a flag may be a key pasted on the command line: said where it stands, never repeated.
    if ((error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const at = argv.findIndex((arg, i) => !arg.startsWith('-') && (i === 0 || !argv[i - 1]!.startsWith('--') || argv[i - 1]!.includes('=') || options[argv[i - 1]!.slice(2)]?.type === 'boolean'));
      throw new UsageError(`${at >= 0 ? `Argument ${at + 1}` : 'An argument'} is not a flag's value (it is not repeated here, in case it is a key): every value follows its flag, as in --model <id>. A key goes in the environment: export ${DEFAULT_KEY_ENV}=...`);
    }
    // node:util's messages cut to their first sentence; they name the option, never its value.
    const message = (error as Error).message;
    const dashed = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
    if (dashed) throw new UsageError(`${dashed[1]}: a value that starts with "-" must be written ${dashed[1]}=<value>.`);
    throw new UsageError(`${message.split('\n')[0]!.split('. ')[0]!.replace(/\.$/, '')}.`);
  }
}

/** A whole-number flag of 1 or more (`fallback` when not given); throws UsageError. */
export function wholeFlag(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag}: "${text}" is not a whole number of 1 or more.`);
  return n;
}

/** A number flag above 0; throws UsageError. */
export function positiveFlag(flag: string, text: string): number {
  const n = /^\d*\.?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${flag}: "${text}" is not a number above 0.`);
  return n;
}

/** The flags every LLM command shares, checked, with defaults; throws UsageError. */
export function llmOptions(values: { [K in keyof typeof LLM_FLAGS]?: string | undefined }): LlmCliOptions {
  for (const required of ['records', 'model', 'out'] as const) if (!values[required]) throw new UsageError(`Missing --${required}.`);
  const keyEnv = values['key-env'] ?? DEFAULT_KEY_ENV;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(keyEnv)) {
    // Not echoed: it may be the key itself, given by mistake.
    throw new UsageError('--key-env takes the name of an environment variable that holds the key (such as MY_LLM_KEY), not the key itself.');
  }
  const baseUrl = values['base-url'] ?? OPENROUTER_API;
  try {
    normalizeBaseUrl(baseUrl);
  } catch (error) {
    throw new UsageError(`--base-url: ${(error as Error).message}`);
  }
  const hub = values.hub ?? HUGGING_FACE_HUB;
  if (!isHttpUrl(hub)) throw new UsageError(`--hub: "${hub}" is not an http(s) URL (the default is ${HUGGING_FACE_HUB}).`);
  const timeout = positiveFlag('timeout', values.timeout ?? String(DEFAULT_TIMEOUT_MS / 1000));
  if (timeout < 1) throw new UsageError(`--timeout: ${values.timeout} s is too short for an LLM to answer; give seconds per attempt, 1 or more (the default is 90).`);
  return {
    records: values.records!,
    baseUrl: normalizeBaseUrl(baseUrl),
    model: values.model!.trim(),
    out: values.out!,
    concurrency: wholeFlag('concurrency', values.concurrency, DEFAULT_CONCURRENCY),
    ...(values.budget !== undefined && { budget: positiveFlag('budget', values.budget) }),
    keyEnv,
    keyEnvGiven: values['key-env'] !== undefined,
    tokenizer: values.tokenizer ?? DEFAULT_TOKENIZER,
    hub,
    timeoutMs: Math.round(timeout * 1000),
    attempts: wholeFlag('attempts', values.attempts, DEFAULT_RETRY.maxAttempts),
    maxExplanationChars: wholeFlag('max-explanation-chars', values['max-explanation-chars'], MAX_EXPLANATION_CHARS),
  };
}

export function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/** 127.0.0.1 (any 127.x), localhost, ::1: a server on this machine. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]';
}

/** The key from the environment, or none where a local server allows it; throws UsageError. */
export function resolveKey(cli: Pick<LlmCliOptions, 'baseUrl' | 'keyEnv' | 'keyEnvGiven'>, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const key = env[cli.keyEnv]?.trim() || undefined;
  if (key) return key;
  if (cli.keyEnvGiven) throw new UsageError(`--key-env: the environment variable ${cli.keyEnv} is not set (or empty). Set it to the API key: export ${cli.keyEnv}=...`);
  if (!isLoopback(cli.baseUrl)) {
    throw new UsageError(
      `No API key: ${new URL(cli.baseUrl).host} needs one. Put it in ${DEFAULT_KEY_ENV} (export ${DEFAULT_KEY_ENV}=...) or name another variable with --key-env NAME. Only a server on this machine (127.0.0.1 or localhost) may be used without a key.`,
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Records

export interface RecordFile {
  hook: string;
  feature: number;
  path: string;
}

const RECORD_FILE = /^latent(\d+)\.json$/;

function recordFilesIn(dir: string, hook: string): RecordFile[] {
  return folderEntries(dir)
    .filter((entry) => entry.isFile && RECORD_FILE.test(entry.name))
    .map((entry) => ({ hook, feature: Number(RECORD_FILE.exec(entry.name)![1]), path: entry.path }))
    .sort((a, b) => a.feature - b.feature);
}

/** The record files of `<dir>/<hook>/latent<f>.json` (or of `<dir>` itself when it is one hook's folder), by hook, then feature. */
export function listRecordFiles(dir: string): RecordFile[] {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw new UsageError(`--records: ${dir} ${stat ? 'is not a folder' : 'does not exist'}; give the folder \`npm run records\` wrote (<records>/<hook>/latent<f>.json).`);
  const own = recordFilesIn(dir, basename(resolve(dir)));
  if (own.length) return own;
  const hooks = folderEntries(dir).filter((entry) => entry.isDirectory).map((entry) => entry.name).sort();
  const files = hooks.flatMap((hook) => recordFilesIn(join(dir, hook), hook));
  if (!files.length) throw new UsageError(`--records: no latent<f>.json files in ${dir}/<hook>/; write them with npm run records -- --cache <delphi cache> --out ${dir}.`);
  return files;
}

const isNumberArray = (value: unknown, integers = false): value is number[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!integers || (Number.isInteger(v) && v >= 0)));

function checkExample(value: unknown, where: string): Example {
  const e = value as Partial<Example> | null;
  if (!e || typeof e !== 'object') throw new Error(`${where} is not an object`);
  if (!isNumberArray(e.tokens, true)) throw new Error(`${where}.tokens is not an array of token ids`);
  for (const key of ['activations', 'normalized'] as const) {
    if (!isNumberArray(e[key]) || e[key].length !== e.tokens.length) throw new Error(`${where}.${key} is not an array of ${e.tokens.length} numbers (one per token)`);
  }
  for (const key of ['row', 'start', 'quantile'] as const) if (typeof e[key] !== 'number') throw new Error(`${where}.${key} is not a number`);
  return e as Example;
}

/** `value` as the FeatureRecord of `file`; throws an Error saying what is wrong. */
export function checkRecord(value: unknown, file: Pick<RecordFile, 'hook' | 'feature'>): FeatureRecord {
  const r = value as Partial<FeatureRecord> | null;
  if (!r || typeof r !== 'object') throw new Error('not a JSON object');
  if (r.feature !== file.feature) throw new Error(`its "feature" is ${JSON.stringify(r.feature)}, not ${file.feature} as its file name says`);
  if (r.hook !== file.hook) throw new Error(`its "hook" is ${JSON.stringify(r.hook)}, not ${JSON.stringify(file.hook)} as its folder says`);
  for (const key of ['n_activations', 'n_windows', 'max_activation'] as const) if (typeof r[key] !== 'number') throw new Error(`"${key}" is not a number`);
  for (const key of ['train', 'test', 'non_activating'] as const) {
    const list = r[key];
    if (!Array.isArray(list)) throw new Error(`"${key}" is not an array`);
    list.forEach((example, i) => checkExample(example, `${key}[${i}]`));
  }
  return r as FeatureRecord;
}

/** A record file read and checked; an error (code records/bad-record) names the file and what is wrong. */
export async function readRecord(file: RecordFile): Promise<FeatureRecord> {
  try {
    return checkRecord(JSON.parse(await readFile(file.path, 'utf8')), file);
  } catch (error) {
    const why = error instanceof SyntaxError ? `not JSON (${error.message})` : (error as Error).message;
    throw Object.assign(new Error(`${file.path}: ${why}.`), { code: 'records/bad-record' });
  }
}

// ---------------------------------------------------------------------------------------------------
// Tokenizer, prices

export async function openTokenizer(spec: string, hub: string, signal?: AbortSignal): Promise<{ tokenizer: TextTokenizer; from: string }> {
  const stat = statSync(spec, { throwIfNoEntry: false });
  if (stat?.isDirectory()) {
    const read = (name: string): Record<string, unknown> => {
      const path = join(spec, name);
      if (!existsSync(path)) throw new UsageError(`--tokenizer: ${spec} has no ${name}; give a folder with tokenizer.json and tokenizer_config.json, or a hub repo id.`);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (error) {
        throw new UsageError(`--tokenizer: ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
      }
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new UsageError(`--tokenizer: ${path} is not JSON.`);
      }
    };
    return { tokenizer: tokenizerFromJson(read('tokenizer.json'), read('tokenizer_config.json')), from: resolve(spec) };
  }
  if (!isRepoId(spec)) throw new UsageError(`--tokenizer: "${spec}" is neither a folder nor a hub repo id (owner/name).`);
  const tokenizer = await loadTokenizer({ repo: spec, hubUrl: hub }, { cache: null, ...(signal && { signal }) });
  return { tokenizer, from: `${spec} (${new URL(hub).host})` };
}

/** The model's prices from the endpoint's /models list, and a line saying where they came from (or why there are none). */
export async function pricingOf(cli: Pick<LlmCliOptions, 'baseUrl' | 'model' | 'timeoutMs'>, key: string | undefined, io: Pick<CliIo, 'info' | 'signal'>): Promise<{ pricing?: Pricing; contextLength?: number; note: string }> {
  const host = new URL(cli.baseUrl).host;
  try {
    const models = await listModels({ baseUrl: cli.baseUrl, ...(key && { apiKey: key }), timeoutMs: cli.timeoutMs, ...(io.signal && { signal: io.signal }) });
    const info = models.find((m) => m.id === cli.model);
    if (!info) {
      if (models.length) io.info(`warning: ${host}/models does not list ${cli.model}; check --model (the endpoint lists ${models.length} models).`);
      return { note: `${host}/models does not list ${cli.model}` };
    }
    const context = info.contextLength ? { contextLength: info.contextLength } : {};
    if (!info.pricing) return { ...context, note: `${host}/models lists no prices` };
    return { ...context, pricing: info.pricing, note: `prices of ${cli.model} from ${host}/models: $${perMillion(info.pricing.prompt)}/M prompt, $${perMillion(info.pricing.completion)}/M completion tokens` };
  } catch (error) {
    if (errorCode(error) === 'cancelled') throw error;
    return { note: `${host}/models did not answer (${describeError(error)})` };
  }
}

export const perMillion = (dollarsPerToken: number): string => String(Number((dollarsPerToken * 1e6).toPrecision(4)));
export const count = (n: number): string => n.toLocaleString('en-US');
export const dollars = (n: number): string => `$${n < 0.01 && n > 0 ? Number(n.toPrecision(3)) : n.toFixed(n < 10 ? 4 : 2)}`;
export const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------------
// run.json

export interface UsageJson {
  prompt_tokens: number;
  completion_tokens: number;
  /** Dollars the endpoint reported. */
  cost: number;
  /** Dollars of calls whose answers reported no cost, at the model's listed prices (0 when unknown). */
  estimated_cost: number;
  calls: number;
  attempts: number;
  uncosted_calls: number;
  /** Of those, calls whose answers reported usage that cannot be right (tokens estimated from the text). */
  untrusted_calls: number;
}

export const usageJson = (t: UsageTotals): UsageJson => ({
  prompt_tokens: t.promptTokens,
  completion_tokens: t.completionTokens,
  cost: t.cost,
  estimated_cost: t.estimatedCost,
  calls: t.calls,
  attempts: t.attempts,
  uncosted_calls: t.uncostedCalls,
  untrusted_calls: t.untrustedCalls ?? 0,
});

/** The warning a run prints when answers reported usage that cannot be right; undefined when none did. */
export function untrustedUsageNote(usage: UsageJson, baseUrl: string, priced: boolean): string | undefined {
  if (!usage.untrusted_calls) return undefined;
  const host = new URL(baseUrl).host;
  return `warning: ${usage.untrusted_calls === 1 ? '1 answer' : `${usage.untrusted_calls} answers`} from ${host} reported usage that cannot be right (negative, not a whole number, or beyond any one call); ${usage.untrusted_calls === 1 ? 'that call is' : 'those calls are'} counted with tokens estimated from the text, ${priced ? "at the model's listed prices, against the budget too" : 'at no cost (the model lists no prices here), so --budget cannot count them'}.`;
}

const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const snakeKeys = (value: object): Record<string, unknown> => Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), v && typeof v === 'object' && !Array.isArray(v) ? snakeKeys(v) : v]));

/** Writes JSON through a temporary file, so a reader never sees half a file (Ctrl-C, a crash). */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, path);
}

// ---------------------------------------------------------------------------------------------------
// The job, run as a command

/** Inputs of a feature as a short digest of its files' bytes (a record; a record and its explanation). */
export function filesDigest(...paths: string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) hash.update(readFileSync(path)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** The job's plan; results of other inputs in `--out` are refused (exit 2), naming what differs. */
export async function planCommand<R>(store: JobStore<R>, work: Pick<JobWork<unknown, R>, 'units' | 'inputs' | 'retryable'>, out: string, labels: Readonly<Record<string, string>>): Promise<JobPlan> {
  try {
    return await planJob(store, work, labels);
  } catch (error) {
    if (errorCode(error) !== 'pipeline/other-inputs') throw error;
    const { differs } = error as { differs?: string };
    throw new UsageError(`--out: ${out} holds results made from other inputs: ${differs}. Nothing was asked or written; rerun with the inputs it was made from, or choose another --out.`);
  }
}

/** Lines printed at most this often while a run goes on (and always the last). */
const PROGRESS_MS = 1000;

export interface JobCommand<I, R> {
  io: LlmIo;
  cli: LlmCliOptions;
  key: string | undefined;
  out: string;
  store: JobStore<R> & { runPath: string };
  work: JobWork<I, R>;
  plan: JobPlan;
  pricing?: Pricing;
  contextLength?: number;
  /** The progress line of a moment of the run. */
  progress(p: JobProgress): string;
  /** What this run did, for a stop's message: "3 features explained", "5 scores". */
  did(state: JobState): string;
}

/**
 * Runs the job with the command's client (the key sent only to the endpoint), progress on stderr,
 * Ctrl-C or SIGTERM as a pause written with why; returns the state as saved, and the exit code when the
 * run was stopped by a signal. A budget spent is said in the command's words (--budget, over the runs).
 */
export async function runJobCommand<I, R>(c: JobCommand<I, R>): Promise<{ state: JobState; signalled?: number }> {
  const { cli, io } = c;
  const client = createLlmClient({
    baseUrl: cli.baseUrl,
    ...(c.key && { apiKey: c.key }),
    timeoutMs: cli.timeoutMs,
    retry: { maxAttempts: cli.attempts },
    ...(flavorOf(cli.baseUrl) === 'openrouter' && { headers: { 'X-Title': 'AutoInterp Web' } }),
  });
  let last = 0;
  let shown: string | undefined;
  let unshown: string | undefined;
  let state = await runJob(c.store, c.work, c.plan, {
    client,
    ...(cli.budget !== undefined && { budget: { maxCost: cli.budget } }),
    ...(c.pricing && { pricing: c.pricing }),
    ...(c.contextLength && { contextLength: c.contextLength }),
    model: cli.model,
    concurrency: cli.concurrency,
    ...(io.signal && { signal: io.signal }),
    onSaveError: (error) => io.info(`warning: could not write ${c.store.runPath}: ${describeError(error)}`),
    onProgress: (p) => {
      const line = `  ${c.progress(p)}`;
      if (line === shown) return;
      unshown = line;
      if (Date.now() - last < PROGRESS_MS && p.done !== p.total) return;
      last = Date.now();
      io.info(line);
      shown = line;
      unshown = undefined;
    },
  });
  if (unshown) io.info(unshown);
  const reworded = (stopped: JobState['stopped']) => state = { ...state, stopped: stopped! };
  if (state.status === 'paused') {
    const stop = stopOf(io.signal);
    reworded({ code: 'cancelled', message: `Stopped by ${stop.by} after ${c.did(state)} in this run; rerun the same command to go on.` });
    await c.store.save(state);
    io.info(`stopped: ${state.stopped!.message} (${c.store.runPath})`);
    return { state, signalled: stop.exitCode };
  }
  if (state.stopped?.code === 'llm/budget') {
    const before = spentCost(state.usage) - spentCost(state.usageThisRun);
    reworded({
      code: 'llm/budget',
      message:
        state.usageThisRun.calls === 0
          ? `The budget of $${cli.budget!} is spent (${dollars(before)} by earlier runs into ${c.out}). Raise --budget to go on.`
          : `The budget of $${cli.budget!} is spent (${dollars(spentCost(state.usage))} over ${plural(state.runs, 'run')} into ${c.out}; the calls under way when it was reached were let finish). Raise --budget to go on.`,
    });
    await c.store.save(state);
  }
  const untrusted = untrustedUsageNote(usageJson(state.usageThisRun), cli.baseUrl, c.pricing !== undefined);
  if (untrusted) io.info(untrusted);
  return { state };
}

/** The lines every LLM command prints before its run: where the key goes, and the budget's notes. */
export function printKeyAndBudget(io: LlmIo, cli: LlmCliOptions, key: string | undefined): void {
  const host = new URL(cli.baseUrl).host;
  io.log(key ? `  key: from $${cli.keyEnv}, sent only to ${host}` : `  key: none (${host} is on this machine)`);
  if (key && new URL(cli.baseUrl).protocol === 'http:' && !isLoopback(cli.baseUrl)) io.info(`warning: the key travels unencrypted (http) to ${host}; use https.`);
}

/** Notes on the budget once the estimate and the prices are known. */
export function printBudgetNotes(io: LlmIo, cli: LlmCliOptions, plan: JobPlan, pricing: Pricing | undefined, estimatedCost: number | undefined): void {
  if (cli.budget === undefined) return;
  const before = spentCost(plan.ledger.usage);
  if (!pricing) io.info(`note: ${cli.model}'s prices are unknown, so --budget counts only the cost the endpoint reports in its answers (OpenRouter does; most local servers do not).`);
  if (estimatedCost !== undefined && estimatedCost > cli.budget - before) io.info(`note: the estimate is over what is left of the budget (${dollars(Math.max(0, cli.budget - before))}); the run will stop when it is spent.`);
}

/** "12,345 prompt + 678 completion tokens, $0.0123 (all 3 runs: $0.05)" */
export function spentLine(state: JobState): string {
  const cost = spentCost(state.usageThisRun);
  return `${count(state.usageThisRun.promptTokens)} prompt + ${count(state.usageThisRun.completionTokens)} completion tokens${cost > 0 ? `, ${dollars(cost)}` : ''}${state.runs > 1 ? ` (all ${state.runs} runs: ${dollars(spentCost(state.usage))})` : ''}`;
}

/** The io of a command run from the shell. */
export const SHELL_IO: LlmIo = { log: (line) => console.log(line), info: (line) => console.error(line) };
