/**
 * `npm run score -- --records <dir> --explanations <dir> --scorers detection,fuzzing,simulation --base-url <url> --model <id> --out <dir>`
 *
 * Scores explanations without a browser, through the job runner the app uses too: every feature with a
 * record (`<records>/<hook>/latent<f>.json`, from `npm run records`) and an explanation
 * (`explanations/<hook>_latent<f>.txt` from `npm run explain` or delphi; --explanations is that folder
 * or the one holding it) is scored by each scorer, several features at once, into delphi's layout:
 *   <out>/scores/<scorer>/<hook>_latent<f>.txt  per-example records, a JSON array: detection and fuzzing
 *       with delphi's seven keys {str_tokens, activations, distance, activating, prediction, probability,
 *       correct}; simulation {str_tokens, activations, distance, activating, predicted} (0..10 per token,
 *       null where the answer could not be used; delphi's own simulation records differ)
 *   <out>/metrics.json    per scorer: {pooled, per_feature} from every score file in <out>/scores
 *   <out>/score-run.json  settings, counts, usage and cost, failures, why it stopped; beside it
 *       score-run.usage.jsonl (every call's usage as it came) and score-run.inputs.json (what it was made from)
 * A feature whose calls all failed gets no score file (a failure is never a score); a call that failed
 * within a scored feature leaves its examples without a prediction (null, never guessed), listed in
 * `call_failures`. A rerun goes on where the last ended: scored features are not asked again, except
 * their calls that failed in a way worth asking again (429, 5xx, time-outs, network, unreadable answers);
 * failed features are. Other inputs (a record or explanation that differs, another model, endpoint, seed
 * or scorer settings) into the same --out are refused.
 *
 * The key comes from the environment only, as for `npm run explain`. Options besides explain's:
 *   --scorers detection,fuzzing (the default; also simulation; fuzz for fuzzing)  --logprobs (P("1") and
 *   the AUC for classifiers, expected values for simulation)  --examples-shown 5  --seed 22 (sample order
 *   and fuzzing marks)  --simulation-format lines|json; --concurrency counts features (a feature's calls
 *   go one after another).
 * Exit codes: 0 done (failures listed in score-run.json; rerun to try them again), 1 the run stopped (key
 * refused, no credits, budget spent, ...), could not start, or scored nothing, 2 bad usage, 130 Ctrl-C,
 * 143 SIGTERM (score-run.json and metrics.json written; rerun to go on).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkOutFolder, commandMain, runIfEntry, UsageError } from './cli.ts';
import { folderStore, SCORE_FILES } from './folder-store.ts';
import * as llm from './llm-cli.ts';
import { explanationsFolder, listExplanationFiles, scoreLedger, scoreRunJson, writeMetrics, type ScoreRunJson } from './run-files.ts';
import { count, plural, type LlmCliOptions, type LlmIo } from './llm-cli.ts';
import { describeError, estimateScoreCost, featureKey, parseExplanationFile, resultFileName,
  retryableCall, scoreWork, scorerByName, spentCost, scorerById, scorerNames, scorerSettings, DEFAULT_SCORERS, DEFAULT_SCORE_SEED, DEFAULT_SCORE_SETTINGS,
  type JobState, type ScoreInputs, type ScoreResult, type ScoreSettings, type SimulationFormat,
} from '../src/lib/index.ts';

const USAGE =
  'Usage: npm run score -- --records <dir> --explanations <dir> --scorers detection,fuzzing,simulation --base-url <url> --model <id> --out <dir> [--concurrency 8] [--budget <dollars>] [--logprobs] [--examples-shown 5] [--seed 22] [--simulation-format lines|json] [--key-env NAME] [--tokenizer <hub id or folder>] [--hub <url>] [--timeout 90] [--attempts 5] [--max-explanation-chars 1000]';

/** Features whose prompts are built to estimate the run's size. */
const ESTIMATE_SAMPLE = 20;


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
  const values = llm.readFlags(argv, {
    ...llm.LLM_FLAGS, explanations: { type: 'string' }, scorers: { type: 'string' }, logprobs: { type: 'boolean' },
    'examples-shown': { type: 'string' }, seed: { type: 'string' }, 'simulation-format': { type: 'string' },
  });
  for (const required of ['records', 'explanations', 'model', 'out'] as const) if (!values[required]) throw new UsageError(`Missing --${required}.`);
  const scorers: string[] = [];
  for (const name of (values.scorers ?? DEFAULT_SCORERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    const id = scorerByName(name)?.id;
    if (!id) throw new UsageError(`--scorers: "${name}" is not one of ${scorerNames().join(', ')}.`);
    if (!scorers.includes(id)) scorers.push(id);
  }
  if (!scorers.length) throw new UsageError('--scorers: name at least one of detection, fuzzing, simulation.');
  const shared = llm.llmOptions(values);
  const seedText = values.seed ?? String(DEFAULT_SCORE_SEED);
  const seed = /^-?\d+$/.test(seedText.trim()) ? Number(seedText) : NaN;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed: "${seedText}" is not a whole number.`);
  const examplesShown = llm.wholeFlag('examples-shown', values['examples-shown'], DEFAULT_SCORE_SETTINGS.examplesShown);
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

/** Runs the command; returns the exit code. */
export async function main(argv: readonly string[], io: LlmIo = llm.SHELL_IO): Promise<number> {
  return commandMain(io, USAGE, async () => {
    const cli = parseCli(argv);
    const settings = settingsOf(cli);
    const key = llm.resolveKey(cli, io.env ?? process.env);
    const out = resolve(cli.out);
    const files = llm.listRecordFiles(cli.records);
    const explanationsDir = explanationsFolder(cli.explanations);
    const explanationFiles = listExplanationFiles(explanationsDir);
    checkOutFolder(out);
    const both = files.filter((file) => explanationFiles.has(featureKey(file)));
    const fileOf = new Map(both.map((file) => [featureKey(file), file]));
    const recordKeys = new Set(files.map(featureKey));
    const withoutRecord = [...explanationFiles.keys()].filter((k) => !recordKeys.has(k)).length;
    const hooks = [...new Set(both.map((file) => file.hook))];
    io.log(`score: ${plural(both.length, 'feature')} of ${plural(hooks.length, 'hook')} (${hooks.join(', ')}) with records in ${resolve(cli.records)} and explanations in ${resolve(explanationsDir)}`);
    if (files.length > both.length) io.log(`  ${plural(files.length - both.length, 'record')} without an explanation (not scored)`);
    if (withoutRecord) io.log(`  ${plural(withoutRecord, 'explanation')} without a record (not scored)`);
    if (!both.length) throw new UsageError(`--explanations: none of the ${plural(explanationFiles.size, 'explanation')} in ${explanationsDir} is of a feature with a record in ${cli.records} (names <hook>_latent<f>.txt and <hook>/latent<f>.json must match).`);

    const settingsJson = Object.fromEntries(cli.scorers.map((id) => [id, llm.snakeKeys(settings[id]!)]));
    let before: Partial<ScoreRunJson> = {};
    let tokenizerFrom = '';
    let estimate: ScoreRunJson['estimate'] = { pairs: 0, prompt_tokens: 0, completion_tokens: 0, cost: null };
    const scoredNow = (id: string) => both.filter((file) => existsSync(join(out, 'scores', id, resultFileName(file.hook, file.feature)))).length;
    const toJson = (state: JobState): ScoreRunJson =>
      scoreRunJson(state, before, {
        model: cli.model, base_url: cli.baseUrl, scorers: cli.scorers, settings: { ...before.settings, ...settingsJson }, seed: cli.seed, tokenizer: tokenizerFrom,
        records: resolve(cli.records), explanations: resolve(explanationsDir), concurrency: cli.concurrency, budget: cli.budget ?? null,
        features: both.length, records_without_explanation: files.length - both.length, explanations_without_record: withoutRecord, estimate,
      }, scoredNow);
    const store = folderStore<ScoreResult>({
      out,
      runFile: 'score-run.json',
      ...SCORE_FILES,
      toJson,
      fromJson: (json) => scoreLedger((before = json as Partial<ScoreRunJson>)),
    });
    const units = both.flatMap(({ hook, feature }) => cli.scorers.map((scorer) => ({ hook, feature, scorer })));
    const inputs = {
      shared: { model: cli.model, endpoint: cli.baseUrl, seed: String(cli.seed), ...Object.fromEntries(cli.scorers.map((id) => [`settings ${id}`, JSON.stringify(settingsJson[id])])) },
      units: Object.fromEntries(both.map((file) => [featureKey(file), llm.filesDigest(file.path, explanationFiles.get(featureKey(file))!)])),
    };
    const labels = { model: '--model', endpoint: '--base-url', seed: '--seed', units: 'the records or explanations', ...Object.fromEntries(cli.scorers.map((id) => [`settings ${id}`, `the ${id} settings (--logprobs, --examples-shown, --simulation-format)`])) };
    const plan = await llm.planCommand(store, { units, inputs, retryable: retryableCall }, out, labels);
    io.log(`  scorers ${cli.scorers.join(', ')}; model ${cli.model} at ${cli.baseUrl}, ${plural(cli.concurrency, 'feature')} at once${cli.logprobs ? ', log-probabilities' : ''}${cli.budget !== undefined ? `, budget $${cli.budget}` : ''}`);
    llm.printKeyAndBudget(io, cli, key);
    const todoOf = (id: string) => plan.todo.filter((u) => u.scorer === id).length;
    if (plan.skipped.length || plan.redo.size) {
      io.log(`  resuming ${out}: ${cli.scorers.map((id) => `${id} ${count(plan.skipped.filter((u) => u.scorer === id).length)}`).join(', ')} features already scored (not asked again), ${plural(plan.todo.length, 'score')} to go${plan.redo.size ? ` (${plural(plan.redo.size, 'scored feature')} with failed calls to ask again)` : ''}`);
    }
    const { tokenizer, from } = await llm.openTokenizer(cli.tokenizer, cli.hub, io.signal);
    tokenizerFrom = from;
    io.log(`  tokenizer: ${from}`);
    const read = async (unit: { hook: string; feature: number }) => {
      const file = fileOf.get(featureKey(unit))!;
      const record = await llm.readRecord(file);
      const path = explanationFiles.get(featureKey(unit))!;
      return { record, explanation: parseExplanationFile(readFileSync(path, 'utf8'), path) };
    };
    const work = scoreWork({ units, inputs, model: cli.model, tokenizer, settings, seed: cli.seed, maxExplanationChars: cli.maxExplanationChars, read });

    // The estimate: each scorer's prompts built for a sample of the features to do, at the endpoint's prices.
    const sample: ScoreInputs[] = [];
    for (const key of [...new Set(plan.todo.map(featureKey))].slice(0, ESTIMATE_SAMPLE)) sample.push(...(await read(fileOf.get(key)!).then((r) => [r], () => [])));
    const { pricing, contextLength, note } = plan.todo.length ? await llm.pricingOf(cli, key, io) : { pricing: undefined, contextLength: undefined, note: 'nothing to do' };
    const estimates = cli.scorers.map((id) => ({ id, ...estimateScoreCost(sample, { tokenizer, scorer: id, settings: settings[id]!, seed: cli.seed, features: todoOf(id), ...(pricing && { pricing }) }) }));
    estimate = { pairs: plan.todo.length, prompt_tokens: estimates.reduce((n, e) => n + e.promptTokens, 0), completion_tokens: estimates.reduce((n, e) => n + e.completionTokens, 0), cost: pricing ? estimates.reduce((n, e) => n + (e.cost ?? 0), 0) : null };
    for (const e of estimates) {
      if (e.features && e.promptTokens) io.log(`estimate ${e.id}: ${plural(e.features, 'feature')} x about ${count(Math.round(e.promptTokens / e.features))} prompt tokens = ${count(e.promptTokens)} prompt + ${count(e.completionTokens)} completion tokens${e.cost === undefined ? '' : `, about ${llm.dollars(e.cost)}`}`);
    }
    io.log(`estimate: ${count(estimate.prompt_tokens)} prompt + ${count(estimate.completion_tokens)} completion tokens; cost ${estimate.cost === null ? 'unknown' : `about ${llm.dollars(estimate.cost)}`} (${note})`);
    llm.printBudgetNotes(io, cli, plan, pricing, estimate.cost ?? undefined);

    const { state, signalled } = await llm.runJobCommand({
      io, cli, key, out, store, work, plan, ...(pricing && { pricing }), ...(contextLength && { contextLength }),
      progress: (p) => `scored ${count(p.done - p.skipped)} of ${plural(plan.todo.length, 'score')} (${cli.scorers.length > 1 ? `${plural(new Set(plan.todo.map(featureKey)).size, 'feature')} x up to ${cli.scorers.length} scorers, ` : ''}${count(p.failed)} failed) · ${count(p.usageThisRun.promptTokens + p.usageThisRun.completionTokens)} tokens${spentCost(p.usageThisRun) > 0 ? ` · ${llm.dollars(spentCost(p.usageThisRun))}` : ''}`,
      did: (s) => plural(Object.values(s.succeeded).reduce((a, b) => a + b, 0), 'score'),
    });
    const metrics = await writeMetrics(out, hooks, (key) => fileOf.get(key));
    if (signalled !== undefined) return signalled;
    const json = toJson(state);
    for (const id of cli.scorers) {
      const m = metrics[id]?.pooled;
      const c = json.per_scorer[id]!;
      const figures = !m ? 'no scores' : 'pearson' in m ? `pearson ${fixed(m.pearson)} over ${plural(m.features, 'feature')}` : `balanced accuracy ${fixed(m.balanced_accuracy)}, f1 ${fixed(m.f1)}, auc ${fixed(m.auc)} over ${plural(m.features, 'feature')}`;
      io.log(`${id}: ${figures} (${count(c.succeeded)} scored now, ${count(c.skipped)} before, ${count(c.failed)} failed${c.not_done ? `, ${count(c.not_done)} not done` : ''})`);
    }
    const succeeded = Object.values(state.succeeded).reduce((a, b) => a + b, 0);
    io.log(`done: ${plural(succeeded, 'score')} written, ${count(state.failures.length)} failed, ${count(plan.skipped.length)} skipped (scored before)${state.callFailures.length ? `, ${plural(state.callFailures.length, 'call')} failed within scored features` : ''}; ${llm.spentLine(state)}; wrote ${out}`);
    if (state.stopped) {
      io.info(`stopped: ${state.stopped.message}`);
      return 1;
    }
    const tried = state.failures.filter((f) => f.kind !== 'input');
    if (succeeded === 0 && tried.length > 0 && plan.todo.length > 0) {
      io.info(`no feature was scored: all ${count(tried.length)} tried failed (listed in score-run.json); the first: [${tried[0]!.code}] ${tried[0]!.message}`);
      return 1;
    }
    const unscorable = state.failures.length - tried.length;
    if (unscorable) io.log(`  ${plural(unscorable, 'score')} cannot be made from the inputs (no test examples, no explanation, a bad file: score-run.json lists each).`);
    if (tried.length) io.log(`  ${plural(tried.length, 'score')} failed on their calls (score-run.json lists each with the reason); rerun the same command to try them again.`);
    return 0;
  });
}

const fixed = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(3));

// Ctrl-C aborts the calls in flight (their features are scored again on resume) and writes score-run.json and metrics.json; a second one quits at once.
void runIfEntry(import.meta.url, 'stopping: aborting the calls in flight and writing score-run.json and metrics.json (Ctrl-C again to quit at once)…', main);
