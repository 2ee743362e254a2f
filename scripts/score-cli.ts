/**
 * `npm run score -- --records <dir> --explanations <dir> --scorers detection,fuzzing,simulation --base-url <url> --model <id> --out <dir>`
 *
 * Scores explanations without a browser: reads the records `npm run records` wrote
 * (`<records>/<hook>/latent<f>.json`) and the explanations `npm run explain` (or delphi) wrote
 * (`explanations/<hook>_latent<f>.txt`, a JSON string each; --explanations is the folder that holds
 * explanations/ or that folder itself), asks an OpenAI-compatible endpoint to score every feature that
 * has both with each scorer (several features at once), and writes delphi's layout:
 *   <out>/scores/<scorer>/<hook>_latent<f>.txt  the per-example records, a JSON array: detection and
 *       fuzzing {str_tokens, activations, distance, activating, prediction, probability, correct}
 *       (delphi's seven keys); simulation {str_tokens, activations, distance, activating, predicted}
 *       (predicted: the 0..10 value per token, null for a sequence whose answer could not be used;
 *       delphi's own simulation records differ)
 *   <out>/metrics.json    per scorer: {pooled, per_feature} from every score file in <out>/scores
 *   <out>/score-run.json  settings, counts, usage and cost, failures, why it stopped
 * A feature whose calls all failed gets no score file (a failure is never a score); score-run.json lists
 * it with the reason. A call that failed within a scored feature leaves its examples without a
 * prediction (null; never guessed), counted in the metrics' `failed` and listed in `call_failures`.
 * Rerunning the same command goes on where the last run ended: a feature with a score file is not
 * scored again by that scorer (never paid twice), failed ones are tried again, usage adds up over runs.
 *
 * The API key comes from the environment only, as for `npm run explain`: OPENROUTER_API_KEY, or the
 * variable `--key-env NAME` names (`--key` is refused); a server on 127.0.0.1 or localhost may go
 * without one. Options:
 *   --scorers detection,fuzzing (the default; also simulation; fuzz for fuzzing)
 *   --base-url https://openrouter.ai/api/v1 (the default; any OpenAI-compatible base URL)
 *   --concurrency 8 (features scored at once; a feature's calls go one after another)
 *   --budget <dollars> (over resumed runs too)  --logprobs (ask for token log-probabilities: P("1") and
 *   the AUC for detection and fuzzing, expected values for simulation)  --examples-shown 5 (per prompt,
 *   detection and fuzzing)  --seed 22 (sample order and fuzzing marks)  --simulation-format lines|json
 *   --key-env NAME  --tokenizer <hub repo id or folder> (default openai-community/gpt2: the tokenizer of
 *   the model the records were cached with)  --hub https://huggingface.co/  --timeout 90 (seconds per
 *   attempt)  --attempts 5 (per call, retries included)
 * Exit codes: 0 done (failures are listed in score-run.json; rerun to try them again), 1 the run stopped
 * (key refused, no credits, budget spent, ...), could not start, or scored nothing because every feature
 * failed, 2 bad usage, 130 stopped by Ctrl-C and 143 by SIGTERM (score-run.json and metrics.json written; rerun to go on).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkOutFolder, folderEntries, runIfEntry, stopOf, UsageError, type CliIo } from './cli.ts';
import { addUsageJson, untrustedUsageNote, checkRecord, llmOptions, LLM_FLAGS, openTokenizer, pricingOf, readFlags, snakeKeys, usageJson, wholeFlag, writeJsonAtomic, isLoopback, listRecordFiles, resolveKey, ZERO_USAGE_JSON, type LlmCliOptions, type RecordFile, type UsageJson } from './explain-cli.ts';
import {
  classificationMetrics,
  createLlmClient,
  describeError,
  errorCode,
  estimateScoreCost,
  flavorOf,
  frequencyWeightedF1,
  isRepoId,
  listModels,
  loadTokenizer,
  parseExplanationFile,
  parseResultFileName,
  parseScoreFile,
  resultFileName,
  resultsToDelphiFiles,
  runFeatureStage,
  SCORERS,
  scoreFailed,
  scoreFeature,
  scorerById,
  scorerSettings,
  simulationMetrics,
  spentCost,
  tokenizerFromJson,
  UsageMeter,
  type ClassificationMetrics,
  type ClassifiedSample,
  type CostEstimate,
  type FeatureRecord,
  type FeatureRunSummary,
  type Pricing,
  type ScorerDefinition,
  type ScoreResult,
  type ScoreSettings,
  type SimulatedSequence,
  type SimulationFormat,
  type SimulationMetrics,
  type TextTokenizer,
  type UsageTotals,
} from '../src/lib/index.ts';

const USAGE =
  'Usage: npm run score -- --records <dir> --explanations <dir> --scorers detection,fuzzing,simulation --base-url <url> --model <id> --out <dir> [--concurrency 8] [--budget <dollars>] [--logprobs] [--examples-shown 5] [--seed 22] [--simulation-format lines|json] [--key-env NAME] [--tokenizer <hub id or folder>] [--hub <url>] [--timeout 90] [--attempts 5] [--max-explanation-chars 1000]';

/** The --scorers names and the registry ids they stand for (`fuzz` is delphi's name for fuzzing). */
export const SCORER_FLAGS: Readonly<Record<string, string>> = Object.freeze({ detection: 'detection', fuzzing: 'fuzzing', fuzz: 'fuzzing', simulation: 'simulation' });
export const DEFAULT_SCORERS: readonly string[] = Object.freeze(['detection', 'fuzzing']);
export const DEFAULT_SEED = 22;
/** Features whose prompts are built to estimate the run's size. */
const ESTIMATE_SAMPLE = 20;
const CHECKPOINT_MS = 2000;
const PROGRESS_MS = 1000;

export interface ScoreIo extends CliIo {
  /** Where the key is read from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface CliOptions extends LlmCliOptions {
  explanations: string;
  /** Registry ids, each once, in the order given. */
  scorers: string[];
  logprobs: boolean;
  examplesShown: number;
  seed: number;
  simulationFormat: SimulationFormat;
}

/** The command line checked, with defaults; throws UsageError (never with a key in its message). */
export function parseCli(argv: readonly string[]): CliOptions {
  const values = readFlags(argv, {
    ...LLM_FLAGS, explanations: { type: 'string' }, scorers: { type: 'string' }, logprobs: { type: 'boolean' },
    'examples-shown': { type: 'string' }, seed: { type: 'string' }, 'simulation-format': { type: 'string' },
  });
  for (const required of ['records', 'explanations', 'model', 'out'] as const) if (!values[required]) throw new UsageError(`Missing --${required}.`);
  const scorers: string[] = [];
  for (const name of (values.scorers ?? DEFAULT_SCORERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    const id = SCORER_FLAGS[name];
    if (!id) throw new UsageError(`--scorers: "${name}" is not one of ${Object.keys(SCORER_FLAGS).join(', ')}.`);
    if (!scorers.includes(id)) scorers.push(id);
  }
  if (!scorers.length) throw new UsageError('--scorers: name at least one of detection, fuzzing, simulation.');
  const shared = llmOptions(values);
  const seedText = values.seed ?? String(DEFAULT_SEED);
  const seed = /^-?\d+$/.test(seedText.trim()) ? Number(seedText) : NaN;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed: "${seedText}" is not a whole number.`);
  const examplesShown = wholeFlag('examples-shown', values['examples-shown'], 5);
  if (examplesShown > 50) throw new UsageError(`--examples-shown: "${examplesShown}" is more than 50 examples per prompt.`);
  const format = values['simulation-format'] ?? 'lines';
  if (format !== 'lines' && format !== 'json') throw new UsageError(`--simulation-format: "${format}" is not one of lines, json.`);
  return { ...shared, explanations: values.explanations!, scorers, logprobs: values.logprobs ?? false, examplesShown, seed, simulationFormat: format };
}

/** Each scorer's settings from the flags, checked by the scorer; throws UsageError. */
export function settingsOf(cli: Pick<CliOptions, 'scorers' | 'logprobs' | 'examplesShown' | 'simulationFormat'>): Record<string, ScoreSettings> {
  const out: Record<string, ScoreSettings> = {};
  for (const id of cli.scorers) {
    try {
      out[id] = scorerSettings(scorerById(id), { logprobs: cli.logprobs, examplesShown: cli.examplesShown, simulationFormat: cli.simulationFormat });
    } catch (error) {
      throw new UsageError(`--scorers ${id}: ${describeError(error)}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Inputs

/** The folder that holds the explanation files: `<dir>/explanations` when there is one, else `<dir>`. */
export function explanationsFolder(dir: string): string {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw new UsageError(`--explanations: ${dir} ${stat ? 'is not a folder' : 'does not exist'}; give the folder \`npm run explain\` wrote (its --out) or its explanations/ subfolder.`);
  const sub = join(dir, 'explanations');
  return statSync(sub, { throwIfNoEntry: false })?.isDirectory() ? sub : dir;
}

/** `<hook>_latent<f>.txt` files of the folder, by `hook\0feature`. */
export function listExplanationFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of folderEntries(dir)) {
    const parsed = entry.isFile ? parseResultFileName(entry.name) : null;
    if (parsed) files.set(keyOf(parsed.hook, parsed.feature), entry.path);
  }
  if (!files.size) throw new UsageError(`--explanations: no <hook>_latent<f>.txt files in ${dir}; write them with npm run explain -- --records <records> --out <dir> (and give that --out here).`);
  return files;
}

const keyOf = (hook: string, feature: number): string => `${hook}\u0000${feature}`;
const pairKey = (scorer: string, hook: string, feature: number): string => `${scorer}\u0000${hook}\u0000${feature}`;

async function readRecord(file: RecordFile): Promise<FeatureRecord> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file.path, 'utf8'));
  } catch (error) {
    throw new Error(error instanceof SyntaxError ? `not JSON (${error.message})` : (error as Error).message);
  }
  return checkRecord(value, file);
}

// ---------------------------------------------------------------------------------------------------
// Tokenizer, prices (as npm run explain)



const count = (n: number): string => n.toLocaleString('en-US');
const dollars = (n: number): string => `$${n < 0.01 && n > 0 ? Number(n.toPrecision(3)) : n.toFixed(n < 10 ? 4 : 2)}`;
const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------------
// metrics.json

/** One simulation score file's record (what this command writes under scores/simulation/). */
export interface SimulationScoreRecord {
  str_tokens: string[];
  activations: number[];
  distance: number;
  activating: boolean;
  /** Predicted activation (0..10) per token; null when the answer for this sequence could not be used. */
  predicted: number[] | null;
}

export type ClassifierFeatureMetrics = ClassificationMetrics;
export interface ClassifierPooledMetrics extends ClassificationMetrics {
  /** Features with a score file. */
  features: number;
  /** Per-feature F1 weighted by the records' n_activations (features whose record is at hand). */
  frequency_weighted_f1: number | null;
}
export interface SimulationPooledMetrics extends SimulationMetrics {
  features: number;
}

/**
 * `<out>/metrics.json`: per scorer, `pooled` (every example of every scored feature taken together)
 * and `per_feature`, keyed by the feature ("12") when the scores are of one hook, by "<hook>:<f>"
 * with several (then `per_hook` adds each hook's pooled figures). Detection and fuzzing start with
 * balanced_accuracy, precision, recall, f1, auc (null without probabilities), failed; simulation with
 * pearson (null where undefined).
 */
export type MetricsJson = Record<
  string,
  | { pooled: ClassifierPooledMetrics; per_feature: Record<string, ClassifierFeatureMetrics>; per_hook?: Record<string, ClassifierPooledMetrics> }
  | { pooled: SimulationPooledMetrics; per_feature: Record<string, SimulationMetrics>; per_hook?: Record<string, SimulationPooledMetrics> }
>;

function parseSimulationFile(text: string, path: string): SimulationScoreRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON (${(error as Error).message}).`);
  }
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (!Array.isArray(data)) throw new Error(`${path} should hold a JSON array of simulated sequences.`);
  return data.map((raw: unknown, i) => {
    const r = raw as Partial<SimulationScoreRecord> | null;
    const ok =
      r && typeof r === 'object' && Array.isArray(r.activations) && r.activations.every(finite) && typeof r.activating === 'boolean' && finite(r.distance) &&
      (r.predicted === null || (Array.isArray(r.predicted) && r.predicted.every(finite)));
    if (!ok) throw new Error(`${path}, sequence ${i}: should have activations (numbers), distance, activating and predicted (numbers or null).`);
    return r as SimulationScoreRecord;
  });
}

/** The score files of `<scores>/<scorer>/`, by hook then feature. */
function scoreFilesOf(dir: string): { hook: string; feature: number; path: string }[] {
  if (!existsSync(dir)) return [];
  return folderEntries(dir)
    .flatMap((entry) => {
      const parsed = entry.isFile ? parseResultFileName(entry.name) : null;
      return parsed ? [{ ...parsed, path: entry.path }] : [];
    })
    .sort((a, b) => (a.hook < b.hook ? -1 : a.hook > b.hook ? 1 : a.feature - b.feature));
}

/**
 * The metrics of every score file under `<out>/scores/<scorer>/` for the registry's scorers (all of
 * them, whatever this run asked for: the folder's metrics, resumed runs included). `weights` gives a
 * feature's n_activations (by `hook\0feature`) for the frequency-weighted F1. Features are keyed
 * "<hook>:<f>" when the score files and `inputHooks` (the hooks of the run's inputs) hold several
 * hooks, else "<f>".
 */
export function computeMetrics(out: string, weights: ReadonlyMap<string, number> = new Map(), inputHooks: Iterable<string> = []): MetricsJson {
  const scoresDir = join(out, 'scores');
  const files = Object.fromEntries(Object.keys(SCORERS).map((id) => [id, scoreFilesOf(join(scoresDir, id))]));
  const hooks = new Set([...inputHooks, ...Object.values(files).flatMap((list) => list.map((file) => file.hook))]);
  const label = (hook: string, feature: number) => (hooks.size > 1 ? `${hook}:${feature}` : String(feature));
  const metrics: MetricsJson = {};
  for (const [id, list] of Object.entries(files)) {
    if (!list.length) continue;
    const byHook = new Map<string, typeof list>();
    for (const file of list) byHook.set(file.hook, [...(byHook.get(file.hook) ?? []), file]);
    if (SCORERS[id]!.kind === 'classifier') {
      const read = list.map((file) => ({ ...file, examples: parseScoreFile(readFileSync(file.path, 'utf8'), file.path) as ClassifiedSample[] }));
      const pooled = (group: typeof read): ClassifierPooledMetrics => ({
        ...classificationMetrics(group.flatMap((f) => f.examples)),
        features: group.length,
        frequency_weighted_f1: frequencyWeightedF1(group.map((f) => ({ f1: classificationMetrics(f.examples).f1, weight: weights.get(keyOf(f.hook, f.feature)) ?? 0 }))),
      });
      metrics[id] = {
        pooled: pooled(read),
        per_feature: Object.fromEntries(read.map((f) => [label(f.hook, f.feature), classificationMetrics(f.examples)])),
        ...(hooks.size > 1 && { per_hook: Object.fromEntries([...byHook.keys()].map((hook) => [hook, pooled(read.filter((f) => f.hook === hook))])) }),
      };
    } else {
      const read = list.map((file) => ({ ...file, sequences: parseSimulationFile(readFileSync(file.path, 'utf8'), file.path) as SimulatedSequence[] }));
      const pooled = (group: typeof read): SimulationPooledMetrics => ({ ...simulationMetrics(group.flatMap((f) => f.sequences)), features: group.length });
      metrics[id] = {
        pooled: pooled(read),
        per_feature: Object.fromEntries(read.map((f) => [label(f.hook, f.feature), simulationMetrics(f.sequences)])),
        ...(hooks.size > 1 && { per_hook: Object.fromEntries([...byHook.keys()].map((hook) => [hook, pooled(read.filter((f) => f.hook === hook))])) }),
      };
    }
  }
  return metrics;
}

// ---------------------------------------------------------------------------------------------------
// score-run.json

export interface ScoreFailureJson {
  hook: string;
  feature: number;
  scorer: string;
  kind: string;
  code: string;
  message: string;
  /** The call's index among the feature's calls (call failures; a feature's first failing call otherwise). */
  call?: number;
}

export interface ScorerCountsJson {
  /** Features with a score file of this scorer now (all runs). */
  scored: number;
  /** Scored by this run. */
  succeeded: number;
  /** Features whose last try failed (listed in `failures`, no score file). */
  failed: number;
  /** Scored before this run (not asked again). */
  skipped: number;
  /** Not reached (the run stopped or was stopped). */
  not_done: number;
  /** How the scores of this folder got their values, over all runs (classifiers: logprobs|text; simulation: expected-value|integers|mixed|json). */
  modes: Record<string, number>;
}

/** `<out>/score-run.json`: snake_case keys; never the key. */
export interface ScoreRunJson {
  model: string;
  base_url: string;
  scorers: string[];
  /** Each scorer's settings (snake_case). */
  settings: Record<string, Record<string, unknown>>;
  seed: number;
  tokenizer: string;
  records: string;
  explanations: string;
  concurrency: number;
  budget: number | null;
  /** Features with both a record and an explanation. */
  features: number;
  records_without_explanation: number;
  explanations_without_record: number;
  per_scorer: Record<string, ScorerCountsJson>;
  usage: UsageJson;
  usage_this_run: UsageJson;
  runs: number;
  /** Of this run's (feature, scorer) pairs to do. */
  estimate: { pairs: number; prompt_tokens: number; completion_tokens: number; cost: number | null };
  /** (feature, scorer) pairs without a score file because they failed. */
  failures: ScoreFailureJson[];
  /** Calls that failed within scored features: their examples have no prediction (null). */
  call_failures: ScoreFailureJson[];
  stopped?: { code: string; message: string };
  started_at: string;
  finished_at: string | null;
}

function readPrevious(path: string): ScoreRunJson | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as ScoreRunJson;
    if (value && typeof value === 'object' && typeof value.model === 'string') return value;
  } catch {
    // reported below
  }
  throw new UsageError(`--out: ${path} is not a score-run.json this command wrote; move it away (or choose another --out) so its usage is not lost.`);
}

// ---------------------------------------------------------------------------------------------------
// The run

/** One (feature, scorer) pair to score. */
interface PairItem {
  record: FeatureRecord;
  explanation: string;
  scorer: ScorerDefinition;
}

/** Runs the command; returns the exit code. */
export async function main(argv: readonly string[], io: ScoreIo = { log: (line) => console.log(line), info: (line) => console.error(line) }): Promise<number> {
  let finish: ((stopped?: { code: string; message: string }) => Promise<void>) | undefined;
  try {
    const cli = parseCli(argv);
    const settings = settingsOf(cli);
    const key = resolveKey(cli, io.env ?? process.env);
    const out = resolve(cli.out);
    const runPath = join(out, 'score-run.json');
    const metricsPath = join(out, 'metrics.json');
    const previous = readPrevious(runPath);
    if (previous && previous.model !== cli.model) {
      throw new UsageError(`--out: ${out} holds scores by ${previous.model} (score-run.json); resume with --model ${previous.model}, or choose another --out.`);
    }
    const settingsJson = Object.fromEntries(cli.scorers.map((id) => [id, snakeKeys(settings[id]!)]));
    if (previous) {
      const changed = cli.scorers.filter((id) => previous.settings?.[id] && existsSync(join(out, 'scores', id)) && JSON.stringify(previous.settings[id]) !== JSON.stringify(settingsJson[id]));
      if (changed.length || (previous.seed !== cli.seed && cli.scorers.some((id) => previous.settings?.[id]))) {
        throw new UsageError(`--out: ${out} holds ${changed.join(', ') || 'scores'} made with other settings or seed (score-run.json); resume with the same --logprobs, --examples-shown, --simulation-format and --seed as before (seed ${previous.seed}), or choose another --out.`);
      }
    }

    const files = listRecordFiles(cli.records);
    const explanationsDir = explanationsFolder(cli.explanations);
    const explanationFiles = listExplanationFiles(explanationsDir);
    checkOutFolder(out);
    const both = files.filter((file) => explanationFiles.has(keyOf(file.hook, file.feature)));
    const withoutExplanation = files.length - both.length;
    const recordKeys = new Set(files.map((file) => keyOf(file.hook, file.feature)));
    const withoutRecord = [...explanationFiles.keys()].filter((k) => !recordKeys.has(k)).length;
    const scoreDir = (scorer: string) => join(out, 'scores', scorer);
    const doneBefore = new Map(cli.scorers.map((id) => [id, new Set(existsSync(scoreDir(id)) ? readdirSync(scoreDir(id)) : [])]));
    const isDone = (scorer: string, file: Pick<RecordFile, 'hook' | 'feature'>) => doneBefore.get(scorer)!.has(resultFileName(file.hook, file.feature));
    const todo = both.map((file) => ({ file, scorers: cli.scorers.filter((id) => !isDone(id, file)) })).filter((t) => t.scorers.length > 0);
    const pairs = todo.reduce((n, t) => n + t.scorers.length, 0);
    const skippedOf = (id: string) => both.filter((file) => isDone(id, file)).length;

    const hooks = [...new Set(both.map((file) => file.hook))];
    const host = new URL(cli.baseUrl).host;
    io.log(`score: ${plural(both.length, 'feature')} of ${plural(hooks.length, 'hook')} (${hooks.join(', ')}) with records in ${resolve(cli.records)} and explanations in ${resolve(explanationsDir)}`);
    if (withoutExplanation) io.log(`  ${plural(withoutExplanation, 'record')} without an explanation (not scored)`);
    if (withoutRecord) io.log(`  ${plural(withoutRecord, 'explanation')} without a record (not scored)`);
    if (!both.length) throw new UsageError(`--explanations: none of the ${plural(explanationFiles.size, 'explanation')} in ${explanationsDir} is of a feature with a record in ${cli.records} (names <hook>_latent<f>.txt and <hook>/latent<f>.json must match).`);
    io.log(`  scorers ${cli.scorers.join(', ')}; model ${cli.model} at ${cli.baseUrl}, ${plural(cli.concurrency, 'feature')} at once${cli.logprobs ? ', log-probabilities' : ''}${cli.budget !== undefined ? `, budget $${cli.budget}` : ''}`);
    io.log(key ? `  key: from $${cli.keyEnv}, sent only to ${host}` : `  key: none (${host} is on this machine)`);
    if (key && new URL(cli.baseUrl).protocol === 'http:' && !isLoopback(cli.baseUrl)) io.info(`warning: the key travels unencrypted (http) to ${host}; use https.`);
    const skippedPairs = both.length * cli.scorers.length - pairs;
    if (skippedPairs) io.log(`  resuming ${out}: ${cli.scorers.map((id) => `${id} ${count(skippedOf(id))}`).join(', ')} features already scored (not asked again), ${plural(pairs, 'score')} to go`);

    const { tokenizer, from } = await openTokenizer(cli.tokenizer, cli.hub, io.signal);
    io.log(`  tokenizer: ${from}`);

    // The estimate: each scorer's prompts built for a sample of the features to do, at the endpoint's prices.
    const sample: { record: FeatureRecord; explanation: string }[] = [];
    for (const { file } of todo.slice(0, ESTIMATE_SAMPLE)) {
      try {
        sample.push({ record: await readRecord(file), explanation: parseExplanationFile(await readFile(explanationFiles.get(keyOf(file.hook, file.feature))!, 'utf8'), 'explanation') });
      } catch {
        // reported as the feature's failure during the run
      }
    }
    const { pricing, note } = pairs ? await pricingOf(cli, key, io) : { pricing: undefined, note: 'nothing to do' };
    const estimates = cli.scorers.map((id): CostEstimate & { id: string } => ({
      id,
      ...estimateScoreCost(sample, { tokenizer, scorer: id, settings: settings[id]!, seed: cli.seed, features: todo.filter((t) => t.scorers.includes(id)).length, ...(pricing && { pricing }) }),
    }));
    const estimate = {
      pairs,
      prompt_tokens: estimates.reduce((n, e) => n + e.promptTokens, 0),
      completion_tokens: estimates.reduce((n, e) => n + e.completionTokens, 0),
      cost: pricing ? estimates.reduce((n, e) => n + (e.cost ?? 0), 0) : null,
    };
    for (const e of estimates) {
      if (e.features && e.promptTokens) io.log(`estimate ${e.id}: ${plural(e.features, 'feature')} x about ${count(Math.round(e.promptTokens / e.features))} prompt tokens = ${count(e.promptTokens)} prompt + ${count(e.completionTokens)} completion tokens${e.cost === undefined ? '' : `, about ${dollars(e.cost)}`}`);
    }
    io.log(`estimate: ${count(estimate.prompt_tokens)} prompt + ${count(estimate.completion_tokens)} completion tokens; cost ${estimate.cost === null ? 'unknown' : `about ${dollars(estimate.cost)}`} (${note})`);

    const previousUsage: UsageJson = { ...ZERO_USAGE_JSON, ...previous?.usage };
    const previousSpent = previousUsage.cost + previousUsage.estimated_cost;
    if (cli.budget !== undefined && !pricing) io.info(`note: ${cli.model}'s prices are unknown, so --budget counts only the cost the endpoint reports in its answers (OpenRouter does; most local servers do not).`);
    if (cli.budget !== undefined && estimate.cost !== null && estimate.cost > cli.budget - previousSpent) {
      io.info(`note: the estimate is over what is left of the budget (${dollars(Math.max(0, cli.budget - previousSpent))}); the run will stop when it is spent.`);
    }

    // State: failed pairs (no file) and failed calls of scored pairs, carried over from earlier runs while they hold.
    const present = new Set(both.flatMap((file) => Object.keys(SCORERS).map((id) => pairKey(id, file.hook, file.feature))));
    const hasFile = (scorer: string, hook: string, feature: number) => existsSync(join(scoreDir(scorer), resultFileName(hook, feature)));
    const failures = new Map<string, ScoreFailureJson>();
    for (const f of previous?.failures ?? []) if (present.has(pairKey(f.scorer, f.hook, f.feature)) && !hasFile(f.scorer, f.hook, f.feature)) failures.set(pairKey(f.scorer, f.hook, f.feature), f);
    const callFailures = new Map<string, ScoreFailureJson[]>();
    for (const f of previous?.call_failures ?? []) {
      const id = pairKey(f.scorer, f.hook, f.feature);
      if (hasFile(f.scorer, f.hook, f.feature)) callFailures.set(id, [...(callFailures.get(id) ?? []), f]);
    }
    const perScorer = new Map(
      Object.keys(SCORERS).map((id) => [id, { succeeded: 0, modes: { ...(previous?.per_scorer?.[id]?.modes ?? {}) } as Record<string, number> }]),
    );
    const meter = new UsageMeter(cli.budget !== undefined ? { maxCost: Math.max(0, cli.budget - previousSpent) } : {}, pricing);
    const startedAt = new Date().toISOString();
    const scorersInJson = [...new Set([...cli.scorers, ...Object.keys(previous?.settings ?? {})])].filter((id) => SCORERS[id]);
    const runJson = (stopped?: { code: string; message: string }, finished = false): ScoreRunJson => {
      const thisRun = usageJson(meter.totals);
      const allFailures = [...failures.values()];
      return {
        model: cli.model,
        base_url: cli.baseUrl,
        scorers: cli.scorers,
        settings: { ...previous?.settings, ...settingsJson },
        seed: cli.seed,
        tokenizer: from,
        records: resolve(cli.records),
        explanations: resolve(explanationsDir),
        concurrency: cli.concurrency,
        budget: cli.budget ?? null,
        features: both.length,
        records_without_explanation: withoutExplanation,
        explanations_without_record: withoutRecord,
        per_scorer: Object.fromEntries(
          scorersInJson.map((id) => {
            const scored = both.filter((file) => hasFile(id, file.hook, file.feature)).length;
            const failed = allFailures.filter((f) => f.scorer === id).length;
            const asked = cli.scorers.includes(id);
            return [id, { scored, succeeded: perScorer.get(id)!.succeeded, failed, skipped: asked ? skippedOf(id) : 0, not_done: asked ? Math.max(0, both.length - scored - failed) : 0, modes: perScorer.get(id)!.modes }];
          }),
        ),
        usage: addUsageJson(previousUsage, thisRun),
        usage_this_run: thisRun,
        runs: (previous?.runs ?? 0) + 1,
        estimate,
        failures: allFailures,
        call_failures: [...callFailures.values()].flat(),
        ...(stopped && { stopped }),
        started_at: startedAt,
        finished_at: finished ? new Date().toISOString() : null,
      };
    };
    const weights = new Map<string, number>();
    const writeMetrics = async () => {
      // Weights of features scored before this run: their records are read now (those of this run were kept as they came).
      for (const file of both) {
        const id = keyOf(file.hook, file.feature);
        if (weights.has(id) || !Object.keys(SCORERS).some((s) => hasFile(s, file.hook, file.feature))) continue;
        try {
          weights.set(id, (await readRecord(file)).n_activations);
        } catch {
          // a bad record: no weight
        }
      }
      await writeJsonAtomic(metricsPath, computeMetrics(out, weights, hooks));
    };
    await mkdir(out, { recursive: true });
    for (const id of cli.scorers) await mkdir(scoreDir(id), { recursive: true });
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
      await writeMetrics();
    };
    await writeJsonAtomic(runPath, runJson());

    if (cli.budget !== undefined && previousSpent >= cli.budget && pairs > 0) {
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

    let succeeded = 0;
    /** Features of this run that failed on their calls (not for want of inputs). */
    let failedThisRun = 0;
    const onResult = async (result: ScoreResult) => {
      const id = pairKey(result.scorer, result.hook, result.feature);
      const asJson = (f: ScoreResult['failures'][number]): ScoreFailureJson => ({ hook: result.hook, feature: result.feature, scorer: result.scorer, kind: f.kind, code: f.code, message: f.message, ...(f.call !== undefined && { call: f.call }) });
      if (scoreFailed(result)) {
        const first = result.failures[0] ?? { kind: 'llm' as const, code: 'score/no-prediction', message: 'No call gave a prediction.' };
        const failed = result.failures.filter((f) => f.call !== undefined).length;
        const message = result.calls > 0 ? `${failed} of ${plural(result.calls, 'call')} failed and none gave a prediction; the first: ${first.message}` : first.message;
        failures.set(id, { ...asJson(first), message });
        callFailures.delete(id);
        if (first.kind !== 'input') failedThisRun++;
      } else {
        const records =
          result.kind === 'classifier'
            ? undefined
            : result.examples.map((e): SimulationScoreRecord => ({ str_tokens: e.str_tokens, activations: e.activations, distance: e.distance, activating: e.activating, predicted: e.predicted }));
        // Classifier records through the results module: delphi's seven keys, in delphi's order.
        const bytes =
          result.kind === 'classifier'
            ? resultsToDelphiFiles([{ hook: result.hook, feature: result.feature, scores: { [result.scorer]: result.examples } }])[0]!.bytes
            : new TextEncoder().encode(JSON.stringify(records));
        // Written beside the folder, then moved in: a score file is always whole.
        const name = resultFileName(result.hook, result.feature);
        const temp = join(out, `.${result.scorer}.${name}.${process.pid}.tmp`);
        await writeFile(temp, bytes);
        await rename(temp, join(scoreDir(result.scorer), name));
        failures.delete(id);
        if (result.failures.length) callFailures.set(id, result.failures.map(asJson));
        else callFailures.delete(id);
        const counts = perScorer.get(result.scorer)!;
        counts.succeeded++;
        counts.modes[result.mode] = (counts.modes[result.mode] ?? 0) + 1;
        succeeded++;
      }
      checkpoint();
    };

    // The pairs, a feature's record and explanation read once for all its scorers, as the pool pulls them.
    async function* items(): AsyncGenerator<PairItem> {
      for (const { file, scorers } of todo) {
        let record: FeatureRecord;
        let explanation: string;
        const path = explanationFiles.get(keyOf(file.hook, file.feature))!;
        try {
          record = await readRecord(file);
        } catch (error) {
          for (const id of scorers) failures.set(pairKey(id, file.hook, file.feature), { hook: file.hook, feature: file.feature, scorer: id, kind: 'input', code: 'records/bad-record', message: `${file.path}: ${(error as Error).message}.` });
          checkpoint();
          continue;
        }
        try {
          explanation = parseExplanationFile(await readFile(path, 'utf8'), path);
        } catch (error) {
          for (const id of scorers) failures.set(pairKey(id, file.hook, file.feature), { hook: file.hook, feature: file.feature, scorer: id, kind: 'input', code: 'results/bad-file', message: describeError(error) });
          checkpoint();
          continue;
        }
        weights.set(keyOf(file.hook, file.feature), record.n_activations);
        for (const id of scorers) yield { record, explanation, scorer: scorerById(id) };
      }
    }

    let lastProgress = 0;
    let unshown: string | undefined;
    let shown: string | undefined;
    let summary: FeatureRunSummary;
    try {
      summary = await runFeatureStage(
        items(),
        {
          stage: 'score',
          verb: 'Scored',
          feature: (item: PairItem) => item.record.feature,
          work: (item: PairItem, metered, signal) => scoreFeature(item.record, item.explanation, { client: metered, model: cli.model, tokenizer, scorer: item.scorer, settings: settings[item.scorer.id]!, seed: cli.seed, maxExplanationChars: cli.maxExplanationChars, signal }),
          failed: scoreFailed,
        },
        {
          client,
          concurrency: cli.concurrency,
          meter,
          total: pairs,
          ...(io.signal && { signal: io.signal }),
          onResult,
          onProgress: (p) => {
            const now = Date.now();
            const tokens = p.usage.promptTokens + p.usage.completionTokens;
            const cost = spentCost(p.usage);
            const line = `  scored ${count(p.done)} of ${plural(pairs, 'score')} (${cli.scorers.length > 1 ? `${plural(todo.length, 'feature')} x up to ${cli.scorers.length} scorers, ` : ''}${count(p.failed)} failed) · ${count(tokens)} tokens${cost > 0 ? ` · ${dollars(cost)}` : ''}`;
            if (line === shown) return;
            unshown = line;
            if (now - lastProgress < PROGRESS_MS && p.done !== p.total) return;
            lastProgress = now;
            io.info(line);
            shown = line;
            unshown = undefined;
          },
        },
      );
      if (unshown) io.info(unshown);
    } catch (error) {
      if (errorCode(error) !== 'cancelled') throw error;
      const stop = stopOf(io.signal);
      const message = `Stopped by ${stop.by} after ${plural(succeeded, 'score')} in this run; rerun the same command to go on.`;
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
    const metrics = JSON.parse(readFileSync(metricsPath, 'utf8')) as MetricsJson;
    const cost = final.usage_this_run.cost + final.usage_this_run.estimated_cost;
    for (const id of cli.scorers) {
      const m = metrics[id]?.pooled;
      const c = final.per_scorer[id]!;
      const figures = !m
        ? 'no scores'
        : 'pearson' in m
          ? `pearson ${fixed(m.pearson)} over ${plural(m.features, 'feature')}`
          : `balanced accuracy ${fixed(m.balanced_accuracy)}, f1 ${fixed(m.f1)}, auc ${fixed(m.auc)} over ${plural(m.features, 'feature')}`;
      io.log(`${id}: ${figures} (${count(c.succeeded)} scored now, ${count(c.skipped)} before, ${count(c.failed)} failed${c.not_done ? `, ${count(c.not_done)} not done` : ''})`);
    }
    io.log(
      `done: ${plural(succeeded, 'score')} written, ${count(failures.size)} failed, ${count(skippedPairs)} skipped (scored before)${final.call_failures.length ? `, ${plural(final.call_failures.length, 'call')} failed within scored features` : ''}; ${count(final.usage_this_run.prompt_tokens)} prompt + ${count(final.usage_this_run.completion_tokens)} completion tokens${cost > 0 ? `, ${dollars(cost)}` : ''}${final.runs > 1 ? ` (all ${final.runs} runs: ${dollars(final.usage.cost + final.usage.estimated_cost)})` : ''}; wrote ${out}`,
    );
    if (stopped) {
      io.info(`stopped: ${stopped.message}`);
      return 1;
    }
    if (succeeded === 0 && failedThisRun > 0 && pairs > 0) {
      const first = [...failures.values()].find((f) => f.kind !== 'input')!;
      io.info(`no feature was scored: all ${count(failedThisRun)} tried failed (listed in score-run.json); the first: [${first.code}] ${first.message}`);
      return 1;
    }
    const unscorable = [...failures.values()].filter((f) => f.kind === 'input').length;
    if (unscorable) io.log(`  ${plural(unscorable, 'score')} cannot be made from the inputs (no test examples, no explanation, a bad file: score-run.json lists each).`);
    if (failures.size > unscorable) io.log(`  ${plural(failures.size - unscorable, 'score')} failed on their calls (score-run.json lists each with the reason); rerun the same command to try them again.`);
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

const fixed = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(3));

// Ctrl-C aborts the calls in flight (their features are scored again on resume) and writes score-run.json and metrics.json; a second one quits at once.
void runIfEntry(import.meta.url, 'stopping: aborting the calls in flight and writing score-run.json and metrics.json (Ctrl-C again to quit at once)…', main);
