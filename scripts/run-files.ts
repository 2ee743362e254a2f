/**
 * The files of the LLM commands' folders, as other tools read them: `run.json` (explain) and
 * `score-run.json` (score) in snake_case, and the results folders read back: the explanation files
 * score takes (ours or delphi's) and every score file of a folder (for metrics.json).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { folderEntries, UsageError } from './cli.ts';
import { fromUsageJson } from './folder-store.ts';
import { readRecord, usageJson, writeJsonAtomic, type RecordFile, type UsageJson } from './llm-cli.ts';
import { aggregateScores, featureKey, metricsJson, parseResultFileName, parseScoreFile, parseSimulationScoreFile, SCORERS, type JobInputs, type JobLedger, type JobState, type MetricsJson, type ScoredFeature, type UnitFailure } from '../src/lib/index.ts';

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
  /** All runs into this folder together (the sum of run.usage.jsonl). */
  usage: UsageJson;
  usage_this_run: UsageJson;
  runs: number;
  estimate: { features: number; prompt_tokens: number; completion_tokens: number; cost: number | null };
  failures: UnitFailure[];
  stopped?: { code: string; message: string };
  started_at: string;
  /** null while the run goes on (or when it was killed). */
  finished_at: string | null;
}

export interface ScorerCountsJson {
  /** Features with a score file of this scorer now (all runs). */
  scored: number;
  /** Scored (or completed) by this run. */
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
  failures: UnitFailure[];
  /** Calls that failed within scored features: their examples have no prediction (null). */
  call_failures: UnitFailure[];
  stopped?: { code: string; message: string };
  started_at: string;
  finished_at: string | null;
}

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
    if (parsed) files.set(featureKey(parsed), entry.path);
  }
  if (!files.size) throw new UsageError(`--explanations: no <hook>_latent<f>.txt files in ${dir}; write them with npm run explain -- --records <records> --out <dir> (and give that --out here).`);
  return files;
}

/** Every score file under `<out>/scores/<scorer>/` of the registry's scorers, read. */
function scoredFeatures(out: string): ScoredFeature[] {
  return Object.values(SCORERS).flatMap(({ id, kind }) => {
    const dir = join(out, 'scores', id);
    if (!existsSync(dir)) return [];
    return folderEntries(dir).flatMap((entry): ScoredFeature[] => {
      const parsed = entry.isFile ? parseResultFileName(entry.name) : null;
      if (!parsed) return [];
      const text = readFileSync(entry.path, 'utf8');
      return [kind === 'classifier' ? { ...parsed, scorer: id, kind, examples: parseScoreFile(text, entry.path) } : { ...parsed, scorer: id, kind, examples: parseSimulationScoreFile(text, entry.path) }];
    });
  });
}

/**
 * `<out>/metrics.json` from every score file of the folder (resumed runs included), the F1s weighted by
 * the features' n_activations (their records, where `recordOf` has one); returns what it wrote.
 */
export async function writeMetrics(out: string, hooks: readonly string[], recordOf: (key: string) => RecordFile | undefined): Promise<MetricsJson> {
  const scored = scoredFeatures(out);
  const weights = new Map<string, number>();
  for (const key of new Set(scored.map(featureKey))) {
    const file = recordOf(key);
    if (file) weights.set(key, await readRecord(file).then((r) => r.n_activations, () => 0));
  }
  const metrics = metricsJson(aggregateScores(scored, { hooks, weight: (f) => weights.get(featureKey(f)) ?? 0 }));
  await writeJsonAtomic(join(out, 'metrics.json'), metrics);
  return metrics;
}

/** What a score run's file says besides the job's state: the command's settings and inputs. */
export type ScoreRunHeader = Omit<ScoreRunJson, 'per_scorer' | 'usage' | 'usage_this_run' | 'runs' | 'failures' | 'call_failures' | 'stopped' | 'started_at' | 'finished_at'>;

/**
 * score-run.json for a state: counts per scorer, those of this run's scorers and of the earlier runs'
 * (`before`) still in the folder; `scored(id)` counts a scorer's files now.
 */
export function scoreRunJson(state: JobState, before: Partial<ScoreRunJson>, header: ScoreRunHeader, scored: (id: string) => number): ScoreRunJson {
  const asked = (id: string) => header.scorers.includes(id);
  const ids = [...new Set([...header.scorers, ...Object.keys(before.settings ?? {})])].filter((id) => SCORERS[id]);
  const perScorer = (id: string): ScorerCountsJson => {
    const now = scored(id);
    const failed = state.failures.filter((f) => f.scorer === id).length;
    return { scored: now, succeeded: state.succeeded[id] ?? 0, failed, skipped: asked(id) ? (state.skipped[id] ?? 0) : 0, not_done: asked(id) ? Math.max(0, header.features - now - failed) : 0, modes: state.modes[id] ?? {} };
  };
  return {
    ...header,
    per_scorer: Object.fromEntries(ids.map((id) => [id, perScorer(id)])),
    usage: usageJson(state.usage),
    usage_this_run: usageJson(state.usageThisRun),
    runs: state.runs,
    failures: state.failures,
    call_failures: state.callFailures,
    ...(state.stopped && { stopped: state.stopped }),
    started_at: state.startedAt,
    finished_at: state.finishedAt,
  };
}

/** The ledger an earlier score-run.json holds (its inputs as far as it names them, for folders written before run.inputs.json). */
export function scoreLedger(before: Partial<ScoreRunJson>): Omit<JobLedger, 'inputs'> & { inputs: JobInputs } {
  const shared = { model: String(before.model), seed: String(before.seed), ...Object.fromEntries(Object.entries(before.settings ?? {}).map(([id, s]) => [`settings ${id}`, JSON.stringify(s)])) };
  const modes = Object.fromEntries(Object.entries(before.per_scorer ?? {}).map(([id, c]) => [id, { ...c.modes }]));
  return { inputs: { shared, units: {} }, usage: fromUsageJson(before.usage ?? {}), runs: before.runs ?? 0, failures: before.failures ?? [], callFailures: before.call_failures ?? [], modes };
}
