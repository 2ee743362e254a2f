/**
 * The job store of the commands: a folder in delphi's layout. Each result is a file
 * (`explanations/<hook>_latent<f>.txt`, `scores/<scorer>/<hook>_latent<f>.txt`) written whole (through a
 * temporary file and a rename); the run file (`run.json`, `score-run.json`) holds the ledger and what
 * the command reports; beside it:
 *   <run>.usage.jsonl    every answered call's usage, appended as it is counted (synchronously, so a
 *                        kill at any moment loses none of it); the usage of all runs is its sum
 *   <run>.inputs.json    what the results were made from (model, endpoint, settings; a digest of each
 *                        feature's inputs), so that a rerun with other inputs is refused
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from './cli.ts';
import { usageJson, writeJsonAtomic, type UsageJson } from './llm-cli.ts';
import {
  addTotals, parseScoreFile, parseSimulationScoreFile, resultFileName, resultsToDelphiFiles, scorerById, simulationScoreRecords, ZERO_TOTALS,
  type ExplanationResult, type JobInputs, type JobLedger, type JobState, type JobStore, type JobUnit, type ScoreResult, type UsageTotals,
} from '../src/lib/index.ts';

export interface FolderStoreOptions<R> {
  out: string;
  /** 'run.json' or 'score-run.json'. */
  runFile: string;
  /** A unit's result file, relative to `out`. */
  path(unit: JobUnit): string;
  /** A result's file content. */
  encode(result: R): string | Uint8Array;
  /** A result file read back (to complete its failed calls). */
  decode?(text: string, unit: JobUnit, path: string): R;
  /** The run file for a state. */
  toJson(state: JobState): object;
  /** What an earlier run file holds of the ledger (runs, failures, call failures, modes; usage where there is no journal). */
  fromJson(json: Record<string, unknown>): Omit<JobLedger, 'inputs'> & { inputs?: JobInputs };
}

/** A run file's `usage` (snake_case) as totals. */
export const fromUsageJson = (u: Partial<UsageJson>): UsageTotals => ({
  calls: u.calls ?? 0,
  attempts: u.attempts ?? 0,
  promptTokens: u.prompt_tokens ?? 0,
  completionTokens: u.completion_tokens ?? 0,
  cost: u.cost ?? 0,
  uncostedCalls: u.uncosted_calls ?? 0,
  estimatedCost: u.estimated_cost ?? 0,
  untrustedCalls: u.untrusted_calls ?? 0,
});


/** The sum of a journal's lines; a last line cut by a kill is left out. */
function journalTotals(path: string): UsageTotals | undefined {
  if (!existsSync(path)) return undefined;
  let totals: UsageTotals = { ...ZERO_TOTALS };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      totals = addTotals(totals, fromUsageJson(JSON.parse(line) as Partial<UsageJson>));
    } catch {
      // a line cut short
    }
  }
  return totals;
}

export function folderStore<R>(options: FolderStoreOptions<R>): JobStore<R> & { runPath: string } {
  const runPath = join(options.out, options.runFile);
  const base = runPath.replace(/\.json$/, '');
  const journalPath = `${base}.usage.jsonl`;
  const inputsPath = `${base}.inputs.json`;
  let run = 0;
  let inputsWritten = '';
  const folders = new Set<string>();
  const ensure = (dir: string) => {
    if (folders.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    folders.add(dir);
  };
  return {
    runPath,
    async ledger() {
      const journal = journalTotals(journalPath);
      if (!existsSync(runPath)) return journal ? { inputs: { shared: {}, units: {} }, usage: journal, runs: 0, failures: [], callFailures: [], modes: {} } : undefined;
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(readFileSync(runPath, 'utf8')) as Record<string, unknown>;
        if (!json || typeof json !== 'object' || typeof json.model !== 'string') throw new Error('not ours');
      } catch {
        throw new UsageError(`--out: ${runPath} is not a ${options.runFile} this command wrote; move it away (or choose another --out) so its usage is not lost.`);
      }
      const ledger = options.fromJson(json);
      const inputs = existsSync(inputsPath) ? (JSON.parse(readFileSync(inputsPath, 'utf8')) as JobInputs) : (ledger.inputs ?? { shared: {}, units: {} });
      inputsWritten = JSON.stringify(inputs);
      run = ledger.runs;
      // Folders written before the journal: their run file's usage is where the journal starts.
      if (!journal && (ledger.usage.calls > 0 || ledger.usage.promptTokens > 0)) appendFileSync(journalPath, `${JSON.stringify({ run, ...usageJson(ledger.usage) })}\n`);
      return { ...ledger, inputs, usage: journal ?? ledger.usage };
    },
    async has(unit) {
      return existsSync(join(options.out, options.path(unit)));
    },
    async result(unit) {
      const path = join(options.out, options.path(unit));
      return options.decode && existsSync(path) ? options.decode(readFileSync(path, 'utf8'), unit, path) : undefined;
    },
    async put(unit, result, failed) {
      if (failed) return; // a failure is never a result file; the run file lists it
      const path = join(options.out, options.path(unit));
      ensure(dirname(path));
      const temp = join(options.out, `.${options.path(unit).replaceAll('/', '.')}.${process.pid}.tmp`);
      await writeFile(temp, options.encode(result));
      await rename(temp, path);
    },
    journal(added) {
      ensure(options.out);
      appendFileSync(journalPath, `${JSON.stringify({ run: run + 1, ...usageJson(added) })}\n`);
    },
    async save(state) {
      ensure(options.out);
      const inputs = JSON.stringify(state.inputs);
      if (inputs !== inputsWritten) {
        await writeJsonAtomic(inputsPath, state.inputs);
        inputsWritten = inputs;
      }
      await writeJsonAtomic(runPath, options.toJson(state));
    },
  };
}

/** Explanations as delphi lays them out: `explanations/<hook>_latent<f>.txt`, a JSON string each. */
export const EXPLANATION_FILES: Pick<FolderStoreOptions<ExplanationResult>, 'path' | 'encode'> = {
  path: (unit) => `explanations/${resultFileName(unit.hook, unit.feature)}`,
  encode: (result) => JSON.stringify(result.explanation),
};

/**
 * Scores as delphi lays them out: `scores/<scorer>/<hook>_latent<f>.txt`, a JSON array of per-example
 * records (delphi's seven keys, in delphi's order, for classifiers; our simulation records), read back
 * to complete their failed calls.
 */
export const SCORE_FILES: Pick<FolderStoreOptions<ScoreResult>, 'path' | 'encode' | 'decode'> = {
  path: (unit) => `scores/${unit.scorer}/${resultFileName(unit.hook, unit.feature)}`,
  encode: (result) =>
    result.kind === 'classifier'
      ? resultsToDelphiFiles([{ hook: result.hook, feature: result.feature, scores: { [result.scorer]: result.examples } }])[0]!.bytes
      : JSON.stringify(simulationScoreRecords(result.examples)),
  decode: (text, unit, path) => {
    if (scorerById(unit.scorer!).kind === 'simulation') return { kind: 'simulation', mode: 'integers', examples: parseSimulationScoreFile(text, path) } as ScoreResult;
    const examples = parseScoreFile(text, path);
    return { kind: 'classifier', mode: examples.some((e) => e.probability !== null) ? 'logprobs' : 'text', examples } as ScoreResult;
  },
};
