/**
 * `npm run explain -- --records <dir> --base-url <url> --model <id> --out <dir>`
 *
 * Explains feature records without a browser: reads the records `npm run records` wrote
 * (`<records>/<hook>/latent<f>.json`, read one at a time as the calls need them), asks an
 * OpenAI-compatible endpoint (OpenRouter, vLLM, llama.cpp, the stand-in) for an explanation of each,
 * several at once, and writes them in delphi's layout, through the job runner the app uses too:
 *   <out>/explanations/<hook>_latent<f>.txt   the explanation as a JSON string (JSON.stringify)
 *   <out>/run.json                            settings, counts, usage and cost, failures, why it stopped
 *   <out>/run.usage.jsonl, run.inputs.json    every call's usage as it came; what the run was made from
 * A failed feature gets no .txt (a failure is never an explanation); run.json lists it with the reason.
 * Rerunning the same command goes on where the last run ended: features with a .txt are not asked again
 * (never paid twice), failed ones are, and usage adds up over the runs. A rerun with other inputs (a
 * record that differs, another model, endpoint or explainer) into the same --out is refused.
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
import { resolve } from 'node:path';
import { checkOutFolder, commandMain, runIfEntry, UsageError } from './cli.ts';
import { EXPLANATION_FILES, folderStore, fromUsageJson } from './folder-store.ts';
import * as llm from './llm-cli.ts';
import type { RunJson } from './run-files.ts';
import { count, plural, type LlmCliOptions, type LlmIo } from './llm-cli.ts';
import { estimateExplainCost, featureProgressText, explainerByName, explainerNames, explainSettings, explainWork, featureKey, type ExplanationResult, type FeatureRecord, type JobState } from '../src/lib/index.ts';


const USAGE =
  'Usage: npm run explain -- --records <dir> --base-url <url> --model <id> --out <dir> [--explainer default|cot|contrastive] [--concurrency 8] [--budget <dollars>] [--key-env NAME] [--tokenizer <hub id or folder>] [--hub <url>] [--timeout 90] [--attempts 5] [--max-explanation-chars 1000]';

/** Records read to estimate the prompt size before the run. */
const ESTIMATE_SAMPLE = 20;

export interface CliOptions extends LlmCliOptions {
  /** A registry id ('default', 'chain-of-thought', 'contrastive'). */
  explainer: string;
}

/** The command line checked, with defaults; throws UsageError (never with a key in its message). */
export function parseCli(argv: readonly string[]): CliOptions {
  const values = llm.readFlags(argv, { ...llm.LLM_FLAGS, explainer: { type: 'string' } });
  for (const required of ['records', 'model', 'out'] as const) if (!values[required]) throw new UsageError(`Missing --${required}.`);
  const explainer = explainerByName(values.explainer ?? 'default');
  if (!explainer) throw new UsageError(`--explainer: "${values.explainer}" is not one of ${explainerNames().join(', ')}.`);
  return { ...llm.llmOptions(values), explainer: explainer.id };
}

/** Runs the command; returns the exit code. */
export async function main(argv: readonly string[], io: LlmIo = llm.SHELL_IO): Promise<number> {
  return commandMain(io, USAGE, async () => {
    const cli = parseCli(argv);
    const key = llm.resolveKey(cli, io.env ?? process.env);
    const explainer = explainerByName(cli.explainer)!;
    const settings = explainSettings({ maxExplanationChars: cli.maxExplanationChars });
    const out = resolve(cli.out);
    const files = llm.listRecordFiles(cli.records);
    checkOutFolder(out);
    const fileOf = new Map(files.map((file) => [featureKey(file), file]));
    const units = files.map(({ hook, feature }) => ({ hook, feature }));
    let tokenizerFrom = '';
    let estimate: RunJson['estimate'] = { features: 0, prompt_tokens: 0, completion_tokens: 0, cost: null };
    const toJson = (state: JobState): RunJson => {
      const explained = (state.skipped[''] ?? 0) + (state.succeeded[''] ?? 0);
      return {
        model: cli.model,
        base_url: cli.baseUrl,
        explainer: explainer.id,
        settings: llm.snakeKeys({ ...settings, maxTokens: settings.maxTokens ?? explainer.maxTokens }),
        tokenizer: tokenizerFrom,
        records: resolve(cli.records),
        concurrency: cli.concurrency,
        budget: cli.budget ?? null,
        features: files.length,
        explained,
        succeeded: state.succeeded[''] ?? 0,
        failed: state.failures.length,
        skipped: state.skipped[''] ?? 0,
        not_done: Math.max(0, files.length - explained - state.failures.length),
        usage: llm.usageJson(state.usage),
        usage_this_run: llm.usageJson(state.usageThisRun),
        runs: state.runs,
        estimate,
        failures: state.failures,
        ...(state.stopped && { stopped: state.stopped }),
        started_at: state.startedAt,
        finished_at: state.finishedAt,
      };
    };
    const store = folderStore<ExplanationResult>({
      out,
      runFile: 'run.json',
      ...EXPLANATION_FILES,
      toJson,
      fromJson: (json) => {
        const run = json as unknown as RunJson;
        return { inputs: { shared: { model: run.model, explainer: run.explainer }, units: {} }, usage: fromUsageJson(run.usage ?? {}), runs: run.runs ?? 0, failures: run.failures ?? [], callFailures: [], modes: {} };
      },
    });
    const inputs = { shared: { model: cli.model, endpoint: cli.baseUrl, explainer: explainer.id }, units: Object.fromEntries(files.map((file) => [featureKey(file), llm.filesDigest(file.path)])) };
    const plan = await llm.planCommand(store, { units, inputs }, out, INPUT_LABELS);
    const hooks = [...new Set(files.map((file) => file.hook))];
    io.log(`explain: ${plural(files.length, 'feature')} of ${plural(hooks.length, 'hook')} (${hooks.join(', ')}) from ${resolve(cli.records)}`);
    io.log(`  model ${cli.model} at ${cli.baseUrl}, explainer ${explainer.id}, ${plural(cli.concurrency, 'call')} at once${cli.budget !== undefined ? `, budget $${cli.budget}` : ''}`);
    llm.printKeyAndBudget(io, cli, key);
    if (plan.skipped.length) io.log(`  resuming ${out}: ${plural(plan.skipped.length, 'feature')} already explained (not asked again), ${count(plan.todo.length)} to go`);
    const { tokenizer, from } = await llm.openTokenizer(cli.tokenizer, cli.hub, io.signal);
    tokenizerFrom = from;
    io.log(`  tokenizer: ${from}`);
    const record = (unit: { hook: string; feature: number }) => llm.readRecord(fileOf.get(featureKey(unit))!);
    const work = explainWork({ units, inputs, model: cli.model, tokenizer, explainer, settings, record });

    // The estimate: prompts built for a sample of the records to do, at the endpoint's prices.
    const sample: FeatureRecord[] = [];
    for (const unit of plan.todo.slice(0, ESTIMATE_SAMPLE)) sample.push(...(await record(unit).then((r) => [r], () => [])));
    const ids = sample.flatMap((r) => r.train.flatMap((example) => example.tokens));
    const blank = ids.filter((id) => tokenizer.decode([id]) === '').length;
    if (blank > 0) io.info(`warning: ${count(blank)} of ${count(ids.length)} token ids in the first records decode to nothing with this tokenizer; are the records from another model's cache? (--tokenizer)`);
    const { pricing, contextLength, note } = plan.todo.length ? await llm.pricingOf(cli, key, io) : { pricing: undefined, contextLength: undefined, note: 'nothing to do' };
    const cost = estimateExplainCost(sample, { tokenizer, explainer, settings, features: plan.todo.length, ...(pricing && { pricing }) });
    estimate = { features: cost.features, prompt_tokens: cost.promptTokens, completion_tokens: cost.completionTokens, cost: cost.cost ?? null };
    io.log(
      `estimate: ${plural(plan.todo.length, 'feature')} x about ${count(Math.round(cost.promptTokens / Math.max(1, plan.todo.length)))} prompt + ${explainer.answerTokens} answer tokens = ${count(cost.promptTokens)} prompt + ${count(cost.completionTokens)} completion tokens; cost ${cost.cost === undefined ? 'unknown' : `about ${llm.dollars(cost.cost)}`} (${note})`,
    );
    llm.printBudgetNotes(io, cli, plan, pricing, cost.cost);

    const { state, signalled } = await llm.runJobCommand({
      io, cli, key, out, store, work, plan, ...(pricing && { pricing }), ...(contextLength && { contextLength }),
      progress: (p) => featureProgressText('Explained', p.done - p.skipped, plan.todo.length, { failed: p.failed, skipped: 0 }, p.usageThisRun),
      did: (s) => plural(s.succeeded[''] ?? 0, 'feature') + ' explained',
    });
    if (signalled !== undefined) return signalled;
    const json = toJson(state);
    io.log(`done: ${plural(json.succeeded, 'feature')} explained, ${count(json.failed)} failed, ${count(json.skipped)} skipped (explained before)${json.not_done ? `, ${count(json.not_done)} not done` : ''}; ${llm.spentLine(state)}; wrote ${out}`);
    if (state.stopped) {
      io.info(`stopped: ${state.stopped.message}`);
      return 1;
    }
    if (json.succeeded === 0 && json.failed > 0 && plan.todo.length > 0) {
      // Nothing worked: most likely the endpoint, not the features (a wrong URL or model, a server that is down).
      const first = state.failures[0]!;
      io.info(`no feature was explained: all ${count(json.failed)} tried failed (listed in run.json); the first: [${first.code}] ${first.message}`);
      return 1;
    }
    if (json.failed) io.log(`  ${plural(json.failed, 'feature')} failed (run.json lists each with the reason); rerun the same command to try them again.`);
    return 0;
  });
}

/** How a rerun's refusal names what differs. */
const INPUT_LABELS = { model: '--model', endpoint: '--base-url', explainer: '--explainer', units: 'the records' };

// Ctrl-C or SIGTERM aborts the calls in flight (their features are asked again on resume) and writes run.json; a second one quits at once.
void runIfEntry(import.meta.url, 'stopping: aborting the calls in flight and writing run.json (Ctrl-C again to quit at once)…', main);
