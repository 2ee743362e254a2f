/**
 * `npm run explain -- --records <dir> --base-url <url> --model <id> --out <dir>`
 *
 * Explains feature records without a browser: reads the records `npm run records` wrote
 * (`<records>/<hook>/latent<f>.json`, one FeatureRecord each, read one at a time as the calls need them),
 * asks an OpenAI-compatible endpoint (OpenRouter, vLLM, llama.cpp, the stand-in) for an explanation of
 * each, several at once, and writes them in delphi's layout:
 *   <out>/explanations/<hook>_latent<f>.txt   the explanation as a JSON string (JSON.stringify)
 *   <out>/run.json                            settings, counts, usage and cost, failures, why it stopped
 * A failed feature gets no .txt (a failure is never an explanation); run.json lists it with the reason.
 * Rerunning the same command goes on where the last run ended: features with a .txt are not asked again
 * (never paid twice), failed ones are tried again, and usage adds up over the runs.
 *
 * The API key comes from the environment only: OPENROUTER_API_KEY, or the variable `--key-env NAME`
 * names (a key on the command line would stay in the shell's history and show in the process list, so
 * `--key` is refused). It is sent, as `Authorization: Bearer`, to the base URL's host and nowhere else,
 * and written nowhere. A server on 127.0.0.1 or localhost may be used without a key. Options:
 *   --base-url https://openrouter.ai/api/v1 (the default; any OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1)
 *   --explainer default|cot|contrastive (default: default)  --concurrency 8  --budget <dollars> (over resumed runs too)
 *   --key-env NAME  --tokenizer <hub repo id or folder with tokenizer.json + tokenizer_config.json>
 *   (default openai-community/gpt2: must be the tokenizer of the model the records were cached with)
 *   --hub https://huggingface.co/  --timeout 90 (seconds per attempt)  --attempts 5 (per call, retries included)
 *   --max-explanation-chars 1000 (a longer explanation is the feature's failure; score refuses one too)
 * Exit codes: 0 done (features that failed are listed in run.json; rerun to try them again), 1 the run
 * stopped (key refused, no credits, budget spent, ...), could not start, or explained nothing because
 * every call failed, 2 bad usage, 130 stopped by Ctrl-C and 143 by SIGTERM (run.json written; rerun to go on).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { checkOutFolder, folderEntries, runIfEntry, stopOf, UsageError, type CliIo } from './cli.ts';
import {
  createLlmClient,
  describeError,
  errorCode,
  estimateExplainCost,
  explainerById,
  explainSettings,
  flavorOf,
  HUGGING_FACE_HUB,
  isRepoId,
  listModels,
  loadTokenizer,
  MAX_EXPLANATION_CHARS,
  normalizeBaseUrl,
  OPENROUTER_API,
  runExplanations,
  spentCost,
  tokenizerFromJson,
  UsageMeter,
  type CostEstimate,
  type Example,
  type ExplainerDefinition,
  type ExplainRunSummary,
  type ExplanationResult,
  type FeatureRecord,
  type Pricing,
  type TextTokenizer,
  type UsageTotals,
} from '../src/lib/index.ts';

const USAGE =
  'Usage: npm run explain -- --records <dir> --base-url <url> --model <id> --out <dir> [--explainer default|cot|contrastive] [--concurrency 8] [--budget <dollars>] [--key-env NAME] [--tokenizer <hub id or folder>] [--hub <url>] [--timeout 90] [--attempts 5] [--max-explanation-chars 1000]';

/** The explainer flag's values and the registry ids they stand for. */
export const EXPLAINER_FLAGS: Readonly<Record<string, string>> = Object.freeze({ default: 'default', cot: 'chain-of-thought', contrastive: 'contrastive' });

export const DEFAULT_KEY_ENV = 'OPENROUTER_API_KEY';
export const DEFAULT_TOKENIZER = 'openai-community/gpt2';
/** Records read to estimate the prompt size before the run. */
const ESTIMATE_SAMPLE = 20;
/** run.json is rewritten at most this often during a run (and always at its end). */
const CHECKPOINT_MS = 2000;
const PROGRESS_MS = 1000;

/** Bad usage: exit code 2, the message and the usage line. */
export interface ExplainIo extends CliIo {
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

export interface CliOptions extends LlmCliOptions {
  /** A registry id ('default', 'chain-of-thought', 'contrastive'). */
  explainer: string;
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
  const timeout = positiveFlag('timeout', values.timeout ?? '90');
  if (timeout < 1) throw new UsageError(`--timeout: ${values.timeout} s is too short for an LLM to answer; give seconds per attempt, 1 or more (the default is 90).`);
  return {
    records: values.records!,
    baseUrl: normalizeBaseUrl(baseUrl),
    model: values.model!.trim(),
    out: values.out!,
    concurrency: wholeFlag('concurrency', values.concurrency, 8),
    ...(values.budget !== undefined && { budget: positiveFlag('budget', values.budget) }),
    keyEnv,
    keyEnvGiven: values['key-env'] !== undefined,
    tokenizer: values.tokenizer ?? DEFAULT_TOKENIZER,
    hub,
    timeoutMs: Math.round(timeout * 1000),
    attempts: wholeFlag('attempts', values.attempts, 5),
    maxExplanationChars: wholeFlag('max-explanation-chars', values['max-explanation-chars'], MAX_EXPLANATION_CHARS),
  };
}

/** The command line checked, with defaults; throws UsageError (never with a key in its message). */
export function parseCli(argv: readonly string[]): CliOptions {
  const values = readFlags(argv, { ...LLM_FLAGS, explainer: { type: 'string' } });
  for (const required of ['records', 'model', 'out'] as const) if (!values[required]) throw new UsageError(`Missing --${required}.`);
  const explainerFlag = values.explainer ?? 'default';
  const explainer = EXPLAINER_FLAGS[explainerFlag] ?? (Object.values(EXPLAINER_FLAGS).includes(explainerFlag) ? explainerFlag : undefined);
  if (!explainer) throw new UsageError(`--explainer: "${explainerFlag}" is not one of ${Object.keys(EXPLAINER_FLAGS).join(', ')}.`);
  return { ...llmOptions(values), explainer };
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
export function resolveKey(cli: Pick<CliOptions, 'baseUrl' | 'keyEnv' | 'keyEnvGiven'>, env: Readonly<Record<string, string | undefined>>): string | undefined {
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

async function readRecord(file: RecordFile): Promise<FeatureRecord> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file.path, 'utf8'));
  } catch (error) {
    throw new Error(error instanceof SyntaxError ? `not JSON (${error.message})` : (error as Error).message);
  }
  return checkRecord(value, file);
}

/** The records of `files`, read one at a time as they are pulled; unreadable ones go to `bad` instead. */
async function* readRecords(files: readonly RecordFile[], bad: (file: RecordFile, why: string) => void): AsyncGenerator<FeatureRecord> {
  for (const file of files) {
    try {
      yield await readRecord(file);
    } catch (error) {
      bad(file, (error as Error).message);
    }
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

/** The model's prices from the endpoint's `/models`, or why they are unknown. */
/** The model's prices from the endpoint's /models list, and a line saying where they came from (or why there are none). */
export async function pricingOf(cli: Pick<CliOptions, 'baseUrl' | 'model' | 'timeoutMs'>, key: string | undefined, io: Pick<CliIo, 'info' | 'signal'>): Promise<{ pricing?: Pricing; note: string }> {
  const host = new URL(cli.baseUrl).host;
  try {
    const models = await listModels({ baseUrl: cli.baseUrl, ...(key && { apiKey: key }), timeoutMs: cli.timeoutMs, ...(io.signal && { signal: io.signal }) });
    const info = models.find((m) => m.id === cli.model);
    if (!info) {
      if (models.length) io.info(`warning: ${host}/models does not list ${cli.model}; check --model (the endpoint lists ${models.length} models).`);
      return { note: `${host}/models does not list ${cli.model}` };
    }
    if (!info.pricing) return { note: `${host}/models lists no prices` };
    return { pricing: info.pricing, note: `prices of ${cli.model} from ${host}/models: $${perMillion(info.pricing.prompt)}/M prompt, $${perMillion(info.pricing.completion)}/M completion tokens` };
  } catch (error) {
    if (errorCode(error) === 'cancelled') throw error;
    return { note: `${host}/models did not answer (${describeError(error)})` };
  }
}

export const perMillion = (dollarsPerToken: number): string => String(Number((dollarsPerToken * 1e6).toPrecision(4)));
const count = (n: number): string => n.toLocaleString('en-US');
const dollars = (n: number): string => `$${n < 0.01 && n > 0 ? Number(n.toPrecision(3)) : n.toFixed(n < 10 ? 4 : 2)}`;
const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

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

export interface FailureJson {
  hook: string;
  feature: number;
  kind: string;
  code: string;
  message: string;
}

/** `<out>/run.json`: snake_case keys; never the key. */
export interface RunJson {
  model: string;
  base_url: string;
  explainer: string;
  settings: Record<string, unknown>;
  tokenizer: string;
  records: string;
  concurrency: number;
  /** Dollars over all runs into this folder; null for none. */
  budget: number | null;
  /** Records found. */
  features: number;
  /** Features with an explanation file now (all runs). */
  explained: number;
  /** Explained by this run. */
  succeeded: number;
  /** Features whose last try failed (listed in `failures`, no explanation file). */
  failed: number;
  /** Already explained before this run (not asked again). */
  skipped: number;
  /** Not reached (the run stopped or was stopped). */
  not_done: number;
  /** All runs into this folder together. */
  usage: UsageJson;
  usage_this_run: UsageJson;
  runs: number;
  estimate: { features: number; prompt_tokens: number; completion_tokens: number; cost: number | null };
  failures: FailureJson[];
  stopped?: { code: string; message: string };
  started_at: string;
  /** null while the run goes on (or when it was killed). */
  finished_at: string | null;
}

export const ZERO_USAGE_JSON: Readonly<UsageJson> = Object.freeze({ prompt_tokens: 0, completion_tokens: 0, cost: 0, estimated_cost: 0, calls: 0, attempts: 0, uncosted_calls: 0, untrusted_calls: 0 });

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

export const addUsageJson = (a: UsageJson, b: UsageJson): UsageJson => Object.fromEntries(Object.keys(ZERO_USAGE_JSON).map((k) => [k, (a[k as keyof UsageJson] ?? 0) + (b[k as keyof UsageJson] ?? 0)])) as unknown as UsageJson;

const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const snakeKeys = (value: object): Record<string, unknown> => Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), v && typeof v === 'object' && !Array.isArray(v) ? snakeKeys(v) : v]));

/** Writes JSON through a temporary file, so a reader never sees half a file (Ctrl-C, a crash). */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, path);
}

function readPrevious(path: string): RunJson | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as RunJson;
    if (value && typeof value === 'object' && typeof value.model === 'string') return value;
  } catch {
    // reported below
  }
  throw new UsageError(`--out: ${path} is not a run.json this command wrote; move it away (or choose another --out) so its usage is not lost.`);
}

// ---------------------------------------------------------------------------------------------------
// The run

const explanationName = (hook: string, feature: number): string => `${hook}_latent${feature}.txt`;
const keyOf = (hook: string, feature: number): string => `${hook}\u0000${feature}`;

/** Runs the command; returns the exit code. */
export async function main(argv: readonly string[], io: ExplainIo = { log: (line) => console.log(line), info: (line) => console.error(line) }): Promise<number> {
  let finish: ((stopped?: { code: string; message: string }) => Promise<void>) | undefined;
  try {
    const cli = parseCli(argv);
    const key = resolveKey(cli, io.env ?? process.env);
    const explainer: ExplainerDefinition = explainerById(cli.explainer);
    const settings = explainSettings({ maxExplanationChars: cli.maxExplanationChars });
    const out = resolve(cli.out);
    const runPath = join(out, 'run.json');
    const explanationsDir = join(out, 'explanations');
    const previous = readPrevious(runPath);
    if (previous && (previous.model !== cli.model || previous.explainer !== explainer.id)) {
      throw new UsageError(`--out: ${out} holds explanations by ${previous.model} with the ${previous.explainer} explainer (run.json); resume with --model ${previous.model} and that explainer, or choose another --out.`);
    }
    const files = listRecordFiles(cli.records);
    checkOutFolder(out);
    const done = new Set(existsSync(explanationsDir) ? readdirSync(explanationsDir) : []);
    const todo = files.filter((file) => !done.has(explanationName(file.hook, file.feature)));
    const skipped = files.length - todo.length;
    const hooks = [...new Set(files.map((file) => file.hook))];

    const host = new URL(cli.baseUrl).host;
    io.log(`explain: ${plural(files.length, 'feature')} of ${plural(hooks.length, 'hook')} (${hooks.join(', ')}) from ${resolve(cli.records)}`);
    io.log(`  model ${cli.model} at ${cli.baseUrl}, explainer ${explainer.id}, ${plural(cli.concurrency, 'call')} at once${cli.budget !== undefined ? `, budget $${cli.budget}` : ''}`);
    io.log(key ? `  key: from $${cli.keyEnv}, sent only to ${host}` : `  key: none (${host} is on this machine)`);
    if (key && new URL(cli.baseUrl).protocol === 'http:' && !isLoopback(cli.baseUrl)) io.info(`warning: the key travels unencrypted (http) to ${host}; use https.`);
    if (skipped) io.log(`  resuming ${out}: ${plural(skipped, 'feature')} already explained (not asked again), ${count(todo.length)} to go`);

    const { tokenizer, from } = await openTokenizer(cli.tokenizer, cli.hub, io.signal);
    io.log(`  tokenizer: ${from}`);

    // The estimate: prompts built for a sample of the records to do, at the endpoint's prices.
    const sample: FeatureRecord[] = [];
    for (const file of todo.slice(0, ESTIMATE_SAMPLE)) sample.push(...(await readRecord(file).then((r) => [r], () => [])));
    const ids = sample.flatMap((record) => record.train.flatMap((example) => example.tokens));
    const blank = ids.filter((id) => tokenizer.decode([id]) === '').length;
    if (blank > 0) io.info(`warning: ${count(blank)} of ${count(ids.length)} token ids in the first records decode to nothing with this tokenizer; are the records from another model's cache? (--tokenizer)`);
    const { pricing, note } = todo.length ? await pricingOf(cli, key, io) : { pricing: undefined, note: 'nothing to do' };
    const estimate: CostEstimate = estimateExplainCost(sample, { tokenizer, explainer, settings, features: todo.length, ...(pricing && { pricing }) });
    io.log(
      `estimate: ${plural(todo.length, 'feature')} x about ${count(Math.round(estimate.promptTokens / Math.max(1, todo.length)))} prompt + ${explainer.answerTokens} answer tokens = ${count(estimate.promptTokens)} prompt + ${count(estimate.completionTokens)} completion tokens; cost ${estimate.cost === undefined ? 'unknown' : `about ${dollars(estimate.cost)}`} (${note})`,
    );

    const previousUsage: UsageJson = { ...ZERO_USAGE_JSON, ...previous?.usage };
    const previousSpent = previousUsage.cost + previousUsage.estimated_cost;
    if (cli.budget !== undefined && !pricing) io.info(`note: ${cli.model}'s prices are unknown, so --budget counts only the cost the endpoint reports in its answers (OpenRouter does; most local servers do not).`);
    if (cli.budget !== undefined && estimate.cost !== undefined && estimate.cost > cli.budget - previousSpent) {
      io.info(`note: the estimate is over what is left of the budget (${dollars(Math.max(0, cli.budget - previousSpent))}); the run will stop when it is spent.`);
    }

    // State written to run.json: failures by feature (earlier runs' failures stay listed until retried).
    const failures = new Map<string, FailureJson>();
    const present = new Set(files.map((file) => keyOf(file.hook, file.feature)));
    for (const failure of previous?.failures ?? []) {
      const id = keyOf(failure.hook, failure.feature);
      if (present.has(id) && !done.has(explanationName(failure.hook, failure.feature))) failures.set(id, failure);
    }
    let succeeded = 0;
    const meter = new UsageMeter(cli.budget !== undefined ? { maxCost: Math.max(0, cli.budget - previousSpent) } : {}, pricing);
    const startedAt = new Date().toISOString();
    const runJson = (stopped?: { code: string; message: string }, finished = false): RunJson => {
      const thisRun = usageJson(meter.totals);
      const explained = skipped + succeeded;
      return {
        model: cli.model,
        base_url: cli.baseUrl,
        explainer: explainer.id,
        settings: snakeKeys({ ...settings, maxTokens: settings.maxTokens ?? explainer.maxTokens }),
        tokenizer: from,
        records: resolve(cli.records),
        concurrency: cli.concurrency,
        budget: cli.budget ?? null,
        features: files.length,
        explained,
        succeeded,
        failed: failures.size,
        skipped,
        not_done: Math.max(0, files.length - explained - failures.size),
        usage: addUsageJson(previousUsage, thisRun),
        usage_this_run: thisRun,
        runs: (previous?.runs ?? 0) + 1,
        estimate: { features: estimate.features, prompt_tokens: estimate.promptTokens, completion_tokens: estimate.completionTokens, cost: estimate.cost ?? null },
        failures: [...failures.values()],
        ...(stopped && { stopped }),
        started_at: startedAt,
        finished_at: finished ? new Date().toISOString() : null,
      };
    };
    await mkdir(explanationsDir, { recursive: true });
    let writing: Promise<void> = Promise.resolve();
    let lastCheckpoint = Date.now();
    const checkpoint = () => {
      if (Date.now() - lastCheckpoint < CHECKPOINT_MS) return;
      lastCheckpoint = Date.now();
      writing = writing.then(() => writeJsonAtomic(runPath, runJson())).catch((error: unknown) => io.info(`warning: could not write ${runPath}: ${describeError(error)}`));
    };
    finish = async (stopped) => {
      finish = undefined;
      await writing;
      await writeJsonAtomic(runPath, runJson(stopped, true));
    };
    await writeJsonAtomic(runPath, runJson());

    if (cli.budget !== undefined && previousSpent >= cli.budget) {
      const message = `The budget of $${cli.budget} is spent (${dollars(previousSpent)} by earlier runs into ${out}). Raise --budget to go on.`;
      await finish({ code: 'llm/budget', message });
      io.info(`stopped: ${message}`);
      return 1;
    }

    const client = createLlmClient({
      baseUrl: cli.baseUrl,
      ...(key && { apiKey: key }),
      timeoutMs: cli.timeoutMs,
      retry: { maxAttempts: cli.attempts },
      ...(flavorOf(cli.baseUrl) === 'openrouter' && { headers: { 'X-Title': 'AutoInterp Web' } }),
    });
    let lastProgress = 0;
    let unshown: string | undefined;
    let shown: string | undefined;
    const onResult = async (result: ExplanationResult) => {
      const id = keyOf(result.hook, result.feature);
      if (result.explanation !== undefined) {
        // Written beside the folder, then moved in: a file in explanations/ is always whole.
        const name = explanationName(result.hook, result.feature);
        const temp = join(out, `.${name}.${process.pid}.tmp`);
        await writeFile(temp, JSON.stringify(result.explanation));
        await rename(temp, join(explanationsDir, name));
        failures.delete(id);
        succeeded++;
      } else {
        const failure = result.failure ?? { kind: 'llm', code: 'llm/unknown', message: 'No explanation and no failure came back.' };
        failures.set(id, { hook: result.hook, feature: result.feature, kind: failure.kind, code: failure.code, message: failure.message });
      }
      checkpoint();
    };
    const bad = (file: RecordFile, why: string) => {
      failures.set(keyOf(file.hook, file.feature), { hook: file.hook, feature: file.feature, kind: 'input', code: 'records/bad-record', message: `${file.path}: ${why}.` });
      checkpoint();
    };

    let summary: ExplainRunSummary;
    try {
      summary = await runExplanations(readRecords(todo, bad), {
        client,
        model: cli.model,
        tokenizer,
        explainer,
        settings,
        concurrency: cli.concurrency,
        meter,
        total: todo.length,
        ...(io.signal && { signal: io.signal }),
        onResult,
        onProgress: (p) => {
          const now = Date.now();
          const line = `  ${p.text}`;
          if (line === shown) return;
          unshown = line;
          if (now - lastProgress < PROGRESS_MS && p.done !== p.total) return;
          lastProgress = now;
          io.info(line);
          shown = line;
          unshown = undefined;
        },
      });
      if (unshown) io.info(unshown);
    } catch (error) {
      if (errorCode(error) !== 'cancelled') throw error;
      const stop = stopOf(io.signal);
      const message = `Stopped by ${stop.by} after ${plural(succeeded, 'feature')} explained in this run; rerun the same command to go on.`;
      await finish({ code: 'cancelled', message });
      io.info(`stopped: ${message} (${runPath})`);
      return stop.exitCode;
    }

    let stopped = summary.stopped;
    if (stopped?.code === 'llm/budget') {
      stopped = { code: 'llm/budget', message: `The budget of $${cli.budget!} is spent (${dollars(previousSpent + spentCost(meter.totals))} over ${plural((previous?.runs ?? 0) + 1, 'run')} into ${out}; the calls under way when it was reached were let finish). Raise --budget to go on.` };
    }
    await finish(stopped);
    const final = runJson(stopped, true);
    const untrusted = untrustedUsageNote(final.usage_this_run, cli.baseUrl, pricing !== undefined);
    if (untrusted) io.info(untrusted);
    const cost = final.usage_this_run.cost + final.usage_this_run.estimated_cost;
    io.log(
      `done: ${plural(succeeded, 'feature')} explained, ${count(failures.size)} failed, ${count(skipped)} skipped (explained before)${final.not_done ? `, ${count(final.not_done)} not done` : ''}; ${count(final.usage_this_run.prompt_tokens)} prompt + ${count(final.usage_this_run.completion_tokens)} completion tokens${cost > 0 ? `, ${dollars(cost)}` : ''}${final.runs > 1 ? ` (all ${final.runs} runs: ${dollars(final.usage.cost + final.usage.estimated_cost)})` : ''}; wrote ${out}`,
    );
    if (stopped) {
      io.info(`stopped: ${stopped.message}`);
      return 1;
    }
    if (succeeded === 0 && failures.size > 0 && todo.length > 0) {
      // Nothing worked: most likely the endpoint, not the features (a wrong URL or model, a server that is down).
      const first = [...failures.values()][0]!;
      io.info(`no feature was explained: all ${count(failures.size)} tried failed (listed in run.json); the first: [${first.code}] ${first.message}`);
      return 1;
    }
    if (failures.size) io.log(`  ${plural(failures.size, 'feature')} failed (run.json lists each with the reason); rerun the same command to try them again.`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.info(error.message);
      io.info(USAGE);
      return 2;
    }
    if (errorCode(error) === 'cancelled') {
      const stop = stopOf(io.signal);
      await finish?.({ code: 'cancelled', message: `Stopped by ${stop.by}.` }).catch(() => undefined);
      io.info(`stopped by ${stop.by}.`);
      return stop.exitCode;
    }
    await finish?.({ code: errorCode(error) ?? 'unknown', message: describeError(error) }).catch(() => undefined);
    io.info(describeError(error));
    return 1;
  }
}

// Ctrl-C or SIGTERM aborts the calls in flight (their features are asked again on resume) and writes run.json; a second one quits at once.
void runIfEntry(import.meta.url, 'stopping: aborting the calls in flight and writing run.json (Ctrl-C again to quit at once)…', main);
