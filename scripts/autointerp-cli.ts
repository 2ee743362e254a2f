/**
 * `npm run autointerp -- --cache <dir> --out <dir> --model <id>`
 *
 * The whole pipeline in one command, as delphi's command line runs it: feature records from a delphi
 * cache, an explanation of each, and scores of the explanations, into one folder:
 *   <out>/records/<hook>/latent<f>.json           npm run records
 *   <out>/explanations/<hook>_latent<f>.txt       npm run explain (and <out>/run.json)
 *   <out>/scores/<scorer>/<hook>_latent<f>.txt    npm run score (and <out>/metrics.json, <out>/score-run.json)
 *   <out>/autointerp.json                         the records settings, so that a rerun can skip that stage
 * The three commands' `main` functions run here one after another (in this process, not as child
 * processes), each with the flags it takes, and a rerun of the same command goes on where the last one
 * ended: records are not rebuilt when <out>/autointerp.json says they were written whole with the same
 * settings, explained and scored features are not asked again. The API key comes from the environment
 * only (OPENROUTER_API_KEY or --key-env NAME; --key is refused); a server on this machine may go keyless.
 * Options:
 *   records: --features 0-99,130  --min-examples 200  --hook <name,...>  --example-ctx 32  --train 40
 *     --test 50  --quantiles 10  --non-activating 50  --train-type quantiles|top|random|mix
 *     --negatives random|neighbours  --windows grid|centred  --skip-bos | --keep-bos
 *   explain: --explainer default|cot|contrastive
 *   score: --scorers detection,fuzzing (default; also simulation)  --logprobs  --examples-shown 5
 *     --simulation-format lines|json
 *   all: --base-url https://openrouter.ai/api/v1  --concurrency 8  --budget <dollars> (explaining and scoring
 *     together, over resumed runs)  --seed 22 (records and scoring)  --key-env NAME  --tokenizer <hub id or
 *     folder> (default: the model_name of the cache's config.json)  --hub <url>  --timeout 90  --attempts 5  --max-explanation-chars 1000
 * Exit codes: 0 done, 1 a stage stopped or failed (the stage's own message says why; rerun to go on),
 * 2 bad usage, 130 stopped by Ctrl-C, 143 by SIGTERM.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkOutFolder, folderEntries, runIfEntry, UsageError, type CliIo } from './cli.ts';
import { main as explainMain, parseCli as parseExplainCli } from './explain-cli.ts';
import type { RunJson } from './run-files.ts';
import { DEFAULT_TOKENIZER, listRecordFiles, openTokenizer, readFlags, resolveKey } from './llm-cli.ts';
import { main as recordsMain, parseCli as parseRecordsCli } from './records-cli.ts';
import { main as scoreMain, parseCli as parseScoreCli, settingsOf } from './score-cli.ts';
import { describeError, isRepoId, type MetricsJson } from '../src/lib/index.ts';

const USAGE =
  'Usage: npm run autointerp -- --cache <delphi cache folder> --out <dir> --model <id> [--base-url <url>] [--scorers detection,fuzzing] [--features 0-99] [--min-examples 200] [--concurrency 8] [--budget <dollars>] [--explainer default|cot|contrastive] [--logprobs] [--seed 22] [--key-env NAME] [--tokenizer <hub id or folder>] [--hub <url>] [--timeout 90] [--attempts 5] [--max-explanation-chars 1000] [records flags: --hook --example-ctx --train --test --quantiles --non-activating --train-type --negatives --windows --skip-bos|--keep-bos] [--examples-shown 5] [--simulation-format lines|json]';

export interface AutointerpIo extends CliIo {
  env?: Readonly<Record<string, string | undefined>>;
}

/** Flags and the stages they go to. */
const RECORDS_FLAGS = ['features', 'min-examples', 'hook', 'example-ctx', 'train', 'test', 'quantiles', 'non-activating', 'train-type', 'negatives', 'windows'] as const;
const RECORDS_SWITCHES = ['skip-bos', 'keep-bos'] as const;
const EXPLAIN_FLAGS = ['explainer'] as const;
const SCORE_FLAGS = ['scorers', 'examples-shown', 'simulation-format'] as const;
const SHARED_FLAGS = ['base-url', 'concurrency', 'key-env', 'tokenizer', 'hub', 'timeout', 'attempts', 'max-explanation-chars'] as const;

export interface Plan {
  cache: string;
  out: string;
  recordsDir: string;
  records: string[];
  explain: string[];
  /** Score's flags without --budget (set from what explaining left of it). */
  score: string[];
  budget?: number;
  /** Where the tokenizer default came from, when --tokenizer was not given. */
  tokenizerNote?: string;
}

/** The model_name of the first `config.json` of a delphi hook folder under `cache`, if any. */
export function cacheModelName(cache: string): string | undefined {
  const candidates = [join(cache, 'config.json')];
  if (statSync(cache, { throwIfNoEntry: false })?.isDirectory()) {
    for (const entry of folderEntries(cache).filter((e) => e.isDirectory).sort((a, b) => (a.name < b.name ? -1 : 1))) candidates.push(join(entry.path, 'config.json'));
  }
  for (const path of candidates) {
    try {
      const name = (JSON.parse(readFileSync(path, 'utf8')) as { model_name?: unknown }).model_name;
      if (typeof name === 'string' && name.trim()) return name.trim();
    } catch {
      // not there, or not delphi's
    }
  }
  return undefined;
}

/** The command line split into the three commands' flags, each checked by its command; throws UsageError. */
export function planCli(argv: readonly string[]): Plan {
  const string = { type: 'string' } as const;
  const boolean = { type: 'boolean' } as const;
  // The LLM commands' reader: a key given as a flag or a bare word is refused and never repeated.
  const values: Record<string, string | boolean | undefined> = readFlags(argv, {
    cache: string, out: string, model: string, budget: string, seed: string, logprobs: boolean,
    ...Object.fromEntries([...RECORDS_FLAGS, ...EXPLAIN_FLAGS, ...SCORE_FLAGS, ...SHARED_FLAGS].map((flag) => [flag, string])),
    ...Object.fromEntries(RECORDS_SWITCHES.map((flag) => [flag, boolean])),
  });
  for (const required of ['cache', 'out', 'model'] as const) if (!values[required]) throw new UsageError(`Missing --${required}.`);
  const pass = (flags: readonly string[]): string[] => flags.flatMap((flag) => (typeof values[flag] === 'string' ? [`--${flag}`, values[flag] as string] : []));
  const switches = (flags: readonly string[]): string[] => flags.filter((flag) => values[flag] === true).map((flag) => `--${flag}`);
  const cache = values.cache as string;
  const out = resolve(values.out as string);
  const recordsDir = join(out, 'records');
  const model = ['--model', values.model as string];
  const seed = typeof values.seed === 'string' ? ['--seed', values.seed] : [];
  let tokenizerNote: string | undefined;
  const shared = pass(SHARED_FLAGS);
  if (values.tokenizer === undefined) {
    const name = cacheModelName(cache);
    shared.push('--tokenizer', name ?? DEFAULT_TOKENIZER);
    tokenizerNote = name ? `the tokenizer of ${name} (the cache's config.json; --tokenizer to choose another)` : `${DEFAULT_TOKENIZER} (the cache's config.json names no model; --tokenizer to choose another)`;
  }
  const plan: Plan = {
    cache,
    out,
    recordsDir,
    records: ['--cache', cache, '--out', recordsDir, ...pass(RECORDS_FLAGS), ...switches(RECORDS_SWITCHES), ...seed],
    explain: ['--records', recordsDir, ...model, '--out', out, ...pass(EXPLAIN_FLAGS), ...shared],
    score: ['--records', recordsDir, '--explanations', out, ...model, '--out', out, ...pass(SCORE_FLAGS), ...shared, ...seed, ...switches(['logprobs'])],
    ...(tokenizerNote && { tokenizerNote }),
  };
  // Each command checks its own flags now, before anything runs (their messages name the flag).
  parseRecordsCli(plan.records);
  const budgetFlag = typeof values.budget === 'string' ? ['--budget', values.budget] : [];
  const explainCli = parseExplainCli([...plan.explain, ...budgetFlag]);
  settingsOf(parseScoreCli([...plan.score, ...budgetFlag]));
  if (explainCli.budget !== undefined) plan.budget = explainCli.budget;
  return plan;
}

/** `<out>/autointerp.json`: what the records stage was run with, and whether it ended whole. */
interface AutointerpJson {
  records_args: string[];
  records_done: boolean;
}

function readState(path: string): AutointerpJson | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as AutointerpJson;
    return Array.isArray(value.records_args) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function writeState(path: string, state: AutointerpJson): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temp, path);
}

/** Dollars spent over all runs by the stage whose run file is `path` (run.json or score-run.json); 0 without one. */
function spentIn(path: string): number {
  if (!existsSync(path)) return 0;
  const usage = (JSON.parse(readFileSync(path, 'utf8')) as Pick<RunJson, 'usage'>).usage;
  return (usage?.cost ?? 0) + (usage?.estimated_cost ?? 0);
}

/** Runs the command; returns the exit code. */
export async function main(argv: readonly string[], io: AutointerpIo = { log: (line) => console.log(line), info: (line) => console.error(line) }): Promise<number> {
  try {
    const plan = planCli(argv);
    const env = io.env ?? process.env;
    // Everything that can be checked here is, before the records are built (their stage can take a
    // while): the key, the cache, --out, and a tokenizer folder (a hub id needs the network: explain's turn).
    const explainCli = parseExplainCli(plan.explain);
    resolveKey(explainCli, env);
    if (!existsSync(plan.cache)) throw new UsageError(`--cache: ${plan.cache} does not exist; give a delphi cache (a folder or zip, as npm run cache or delphi writes it).`);
    checkOutFolder(plan.out);
    if (!isRepoId(explainCli.tokenizer) || existsSync(explainCli.tokenizer)) await openTokenizer(explainCli.tokenizer, explainCli.hub, io.signal);
    const stageIo: AutointerpIo = { ...io, env };
    await mkdir(plan.out, { recursive: true });
    const statePath = join(plan.out, 'autointerp.json');
    const state = readState(statePath);
    // The records' settings: the cache given relative to where the command ran is kept as given; compared as a whole.
    const recordsArgs = plan.records.map((arg) => (arg === plan.cache ? resolve(plan.cache) : arg));
    const sameRecords = state?.records_done === true && JSON.stringify(state.records_args) === JSON.stringify(recordsArgs) && existsSync(plan.recordsDir);
    if (plan.tokenizerNote) io.log(`autointerp: tokenizer: ${plan.tokenizerNote}`);

    io.log(`autointerp 1/3: records of ${resolve(plan.cache)} into ${plan.recordsDir}`);
    if (sameRecords) {
      io.log(`  already written with these settings (${statePath}); not rebuilt`);
    } else {
      if (state && JSON.stringify(state.records_args) !== JSON.stringify(recordsArgs) && existsSync(join(plan.out, 'explanations'))) {
        throw new UsageError(`--out: ${plan.out} holds explanations of records built with other settings (${statePath}); rerun with the same records flags, or choose another --out.`);
      }
      await writeState(statePath, { records_args: recordsArgs, records_done: false });
      const code = await recordsMain(recordsArgs, stageIo);
      if (code !== 0) return code;
      await writeState(statePath, { records_args: recordsArgs, records_done: true });
    }

    // One budget for explaining and scoring together, over resumed runs: each stage gets what the other
    // stage's runs (run.json, score-run.json) left of it, and counts its own earlier runs itself.
    const budgetLeft = (otherRunFile: string): string[] | undefined => {
      if (plan.budget === undefined) return [];
      const left = plan.budget - spentIn(join(plan.out, otherRunFile));
      return left > 1e-9 ? ['--budget', left.toFixed(9)] : undefined;
    };
    io.log(`autointerp 2/3: explanations into ${join(plan.out, 'explanations')}`);
    const explainBudget = budgetLeft('score-run.json');
    if (!explainBudget) {
      io.info(`stopped: the budget of $${plan.budget} is spent (score-run.json); raise --budget to go on.`);
      return 1;
    }
    const recordFiles = listRecordFiles(plan.recordsDir);
    const explanationsDir = join(plan.out, 'explanations');
    const explainedBefore = new Set(existsSync(explanationsDir) ? readdirSync(explanationsDir) : []);
    if (recordFiles.every((file) => explainedBefore.has(`${file.hook}_latent${file.feature}.txt`))) {
      io.log(`  all ${recordFiles.length} features are explained already (${explanationsDir}); nothing to ask`);
    } else {
      const explained = await explainMain([...plan.explain, ...explainBudget], stageIo);
      if (explained !== 0) return explained;
    }

    io.log(`autointerp 3/3: scores into ${join(plan.out, 'scores')}`);
    const scoreBudget = budgetLeft('run.json');
    if (!scoreBudget) {
      io.info(`stopped: the budget of $${plan.budget} was spent explaining (run.json); raise --budget to score.`);
      return 1;
    }
    const scored = await scoreMain([...plan.score, ...scoreBudget], stageIo);
    if (scored !== 0) return scored;
    const metrics = JSON.parse(readFileSync(join(plan.out, 'metrics.json'), 'utf8')) as MetricsJson;
    io.log(`autointerp: done; ${join(plan.out, 'metrics.json')} holds ${Object.keys(metrics).join(', ') || 'no scores'}`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.info(error.message);
      io.info(USAGE);
      return 2;
    }
    io.info(describeError(error));
    return 1;
  }
}

// Ctrl-C goes to the stage under way, which stops as it does on its own (files whole, run files written); a second one quits at once.
void runIfEntry(import.meta.url, 'stopping the stage under way (Ctrl-C again to quit at once)…', main);
