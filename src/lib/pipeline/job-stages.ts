/**
 * The two stages a job runs (job-runner.ts): explaining features and scoring their explanations, each
 * the same for the app and the commands. The caller says where records (and explanations) come from
 * and what the job was made from; the stage does one unit's calls.
 *
 * ```ts
 * const work = scoreWork({ units, inputs, model, tokenizer, scorers: { detection: settings }, seed: 22, read });
 * await runJob(store, work, await planJob(store, work), { client });
 * ```
 */
import { explainFeature, resolveExplainer, explainSettings, type ExplainerDefinition, type ExplainSettings, type ExplanationResult } from '../explainers/index.ts';
import type { FeatureRecord } from '../latents/index.ts';
import { completeScore, retryableCall, scoreFailed, scoreFeature, scorerById, DEFAULT_SCORE_SEED, type ScoreResult, type ScoreSettings } from '../scorers/index.ts';
import type { TextTokenizer } from '../types.ts';
import { featureKey, type JobInputs, type JobUnit, type JobWork } from './job-runner.ts';

export interface ExplainWorkOptions {
  units: readonly JobUnit[];
  inputs: JobInputs;
  model: string;
  tokenizer: TextTokenizer;
  explainer?: string | ExplainerDefinition;
  settings?: Partial<ExplainSettings>;
  /** A unit's record; an error is the unit's failure (kind input). */
  record(unit: JobUnit): Promise<FeatureRecord>;
}

export function explainWork(options: ExplainWorkOptions): JobWork<FeatureRecord, ExplanationResult> {
  const explainer = resolveExplainer(options.explainer);
  const settings = explainSettings(options.settings);
  return {
    stage: 'explain',
    verb: 'Explained',
    noun: 'features',
    units: options.units,
    inputs: options.inputs,
    input: options.record,
    work: (record, _unit, client, signal) => explainFeature(record, { client, model: options.model, tokenizer: options.tokenizer, explainer, settings, signal }),
    failed: (result) => result.failure !== undefined,
    failures: (result) => (result.failure ? [result.failure] : []),
  };
}

/** A feature to score: its record and the explanation it is scored against. */
export interface ScoreInputs {
  record: FeatureRecord;
  explanation: string;
}

export interface ScoreWorkOptions {
  /** (feature, scorer) units, a feature's scorers together. */
  units: readonly JobUnit[];
  inputs: JobInputs;
  model: string;
  tokenizer: TextTokenizer;
  /** Each scorer's settings, by id. */
  settings: Readonly<Record<string, ScoreSettings>>;
  seed?: number;
  maxExplanationChars?: number;
  /** A feature's record and explanation (read once for all its scorers); an error is the units' failure. */
  read(unit: JobUnit): Promise<ScoreInputs>;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function scoreWork(options: ScoreWorkOptions): JobWork<ScoreInputs, ScoreResult> {
  const seed = options.seed ?? DEFAULT_SCORE_SEED;
  let last: { key: string; read: Promise<ScoreInputs> } | undefined;
  return {
    stage: 'score',
    verb: 'Scored',
    noun: 'scores',
    units: options.units,
    inputs: options.inputs,
    input(unit) {
      if (last?.key !== featureKey(unit)) last = { key: featureKey(unit), read: options.read(unit) };
      return last.read;
    },
    async work({ record, explanation }, unit, client, signal, redo) {
      const scorer = scorerById(unit.scorer!);
      const asked = { client, model: options.model, tokenizer: options.tokenizer, scorer, settings: options.settings[scorer.id]!, seed, signal, ...(options.maxExplanationChars !== undefined && { maxExplanationChars: options.maxExplanationChars }) };
      if (!redo) return scoreFeature(record, explanation, asked);
      const fresh = await scoreFeature(record, explanation, { ...asked, calls: redo.calls });
      return completeScore({ kind: redo.previous.kind, examples: redo.previous.examples, mode: redo.previous.mode, failures: redo.failures as ScoreResult['failures'] }, fresh, redo.calls) as ScoreResult;
    },
    failed: scoreFailed,
    failures(result) {
      if (!scoreFailed(result)) return result.failures.filter((f) => f.call !== undefined);
      const first = result.failures[0] ?? { kind: 'llm' as const, code: 'score/no-prediction', message: 'No call gave a prediction.' };
      const failed = result.failures.filter((f) => f.call !== undefined).length;
      return [{ ...first, message: result.calls > 0 ? `${failed} of ${plural(result.calls, 'call')} failed and none gave a prediction; the first: ${first.message}` : first.message }];
    },
    retryable: retryableCall,
    mode: (result) => result.mode,
  };
}
