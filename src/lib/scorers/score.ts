/**
 * One feature scored: the scorer's calls made one after another, each answer read. A call that fails
 * or an answer that cannot be read is recorded as a failure and its samples stay without prediction;
 * the feature's result always comes back. Errors after which no later call can succeed (a refused key,
 * no credits, a model that cannot do what is asked, the run's budget spent) and cancellation are
 * thrown instead, for the run to stop on.
 *
 * Log-probabilities that were asked for and did not come (`llm/no-logprobs`: some providers drop them)
 * are recorded as a failure, and the answer's text is still read: verdicts and integers without
 * probabilities or expected values.
 */
import { errorCode } from '../errors.ts';
import { addUsage, LlmError, llmFailure, stopsRun, ZERO_USAGE, type LlmClient, type Usage } from '../clients/index.ts';
import { MAX_EXPLANATION_CHARS, type FeatureRecord } from '../latents/index.ts';
import { classificationMetrics, simulationMetrics } from '../metrics/index.ts';
import type { TextTokenizer } from '../types.ts';
import { throwIfAborted } from '../util/index.ts';
import { scoreSettings, type ScoreAnswer, type ScoreFailure, type ScoreOutcome, type ScorerDefinition, type ScoreResult, type ScoreSettings, type ScoreTask } from './contract.ts';
import { scorerById } from './registry.ts';
import { DEFAULT_SCORE_SEED } from './samples.ts';

export interface ScoreOptions {
  client: LlmClient;
  model: string;
  tokenizer: TextTokenizer;
  /** An id of the registry or a definition; 'detection' when undefined. */
  scorer?: string | ScorerDefinition;
  settings?: Partial<ScoreSettings>;
  /** Seeds the order of samples and the fuzzing marks, with the feature (default 22). */
  seed?: number;
  /** A longer explanation is refused, not sent (MAX_EXPLANATION_CHARS when undefined). */
  maxExplanationChars?: number;
  /** Ask only these calls (by index), to complete an earlier result (`completeScore`); all when undefined. */
  calls?: ReadonlySet<number>;
  signal?: AbortSignal;
}

export const resolveScorer = (scorer: string | ScorerDefinition | undefined): ScorerDefinition => (typeof scorer === 'object' ? scorer : scorerById(scorer ?? 'detection'));

/** The scorer's defaults with `partial` over them, checked (also by the scorer's own rules). */
export function scorerSettings(scorer: ScorerDefinition, partial: Partial<ScoreSettings> = {}): ScoreSettings {
  const settings = scoreSettings(partial, scorer.defaults);
  scorer.check?.(settings);
  return settings;
}

/** The feature's task (its calls), or the reason there is nothing to ask. */
export function prepareScore(record: FeatureRecord, explanation: string, scorer: ScorerDefinition, tokenizer: TextTokenizer, settings: ScoreSettings, seed: number, maxExplanationChars = MAX_EXPLANATION_CHARS): { task: ScoreTask } | { failure: ScoreFailure } {
  if (record.test.length === 0) return { failure: { kind: 'input', code: 'score/no-examples', message: `Feature ${record.feature} has no test examples to score on.` } };
  if (explanation.trim() === '') return { failure: { kind: 'input', code: 'score/no-explanation', message: `Feature ${record.feature} has no explanation to score.` } };
  if (explanation.length > maxExplanationChars) {
    return { failure: { kind: 'input', code: 'score/explanation-too-long', message: `The explanation of feature ${record.feature} (${record.hook}) has ${explanation.length.toLocaleString('en-US')} characters, more than the ${maxExplanationChars.toLocaleString('en-US')} a scorer is sent: not scored (every prompt would carry it).` } };
  }
  return { task: scorer.prepare({ record, explanation, tokenizer, settings, seed }) };
}

const emptyOutcome = (kind: ScoreOutcome['kind']): ScoreOutcome =>
  kind === 'classifier' ? { kind, mode: 'text', examples: [], metrics: classificationMetrics([]) } : { kind, mode: 'integers', examples: [], metrics: simulationMetrics([]) };

/** Whether a result has no prediction at all (nothing was asked, or every call failed). */
export function scoreFailed(result: ScoreResult): boolean {
  return result.kind === 'classifier' ? result.examples.every((e) => e.prediction === null) : result.examples.every((e) => e.predicted === null);
}

export async function scoreFeature(record: FeatureRecord, explanation: string, options: ScoreOptions): Promise<ScoreResult> {
  const scorer = resolveScorer(options.scorer);
  const settings = scorerSettings(scorer, options.settings);
  const seed = options.seed ?? DEFAULT_SCORE_SEED;
  const base = { feature: record.feature, hook: record.hook, scorer: scorer.id, model: options.model, explanation, settings, seed };
  const prepared = prepareScore(record, explanation, scorer, options.tokenizer, settings, seed, options.maxExplanationChars);
  if ('failure' in prepared) return { ...base, raw: [], failures: [prepared.failure], usage: { ...ZERO_USAGE }, calls: 0, attempts: 0, ...emptyOutcome(scorer.kind) };
  const { task } = prepared;
  const raw: (string | null)[] = [];
  const failures: ScoreFailure[] = [];
  let usage: Usage = { ...ZERO_USAGE };
  let attempts = 0;
  for (const [index, call] of task.calls.entries()) {
    throwIfAborted(options.signal, 'Scoring');
    if (options.calls && !options.calls.has(index)) {
      raw.push(null);
      continue;
    }
    let answer: ScoreAnswer | undefined;
    try {
      const completion = await options.client.complete(
        {
          model: options.model,
          messages: call.messages,
          temperature: settings.temperature,
          maxTokens: settings.maxTokens ?? call.maxTokens,
          ...(call.topLogprobs !== undefined && { topLogprobs: call.topLogprobs }),
          ...(call.json !== undefined && { json: call.json }),
          ...(settings.reasoning && { reasoning: settings.reasoning }),
        },
        options.signal,
      );
      usage = addUsage(usage, completion.usage);
      attempts += completion.attempts;
      answer = { text: completion.text, ...(completion.logprobs && { logprobs: completion.logprobs }), ...(completion.json !== undefined && { json: completion.json }) };
    } catch (error) {
      if (stopsRun(error) || errorCode(error) === 'cancelled') throw error;
      const details = error instanceof LlmError ? error : undefined;
      if (details?.usage) usage = addUsage(usage, details.usage);
      attempts += details?.attempts ?? 1;
      failures.push({ ...llmFailure(error), call: index });
      // The answer came, without the log-probabilities asked for: its text is still an answer.
      if (errorCode(error) === 'llm/no-logprobs' && details?.text) answer = { text: details.text };
    }
    raw.push(answer?.text ?? null);
    if (!answer) continue;
    const failure = task.read(index, answer);
    if (failure) failures.push(failure);
  }
  return { ...base, raw, failures, usage, calls: task.calls.length, attempts, ...task.finish() };
}

/** Failure codes of calls that may well succeed when asked again: the server was busy, down or slow, or the answer could not be read. */
const RETRYABLE_CALL_CODES: ReadonlySet<string> = new Set(['llm/timeout', 'llm/rate-limited', 'llm/server', 'llm/network', 'llm/empty', 'llm/truncated', 'llm/bad-response', 'llm/bad-json']);

/**
 * Whether a failed call of a scored feature is asked again by a rerun: time-outs, rate limits, server
 * errors and unreadable answers are; answers that came with something usable (verdicts without
 * log-probabilities) and refusals are not, so an answered call is never paid twice.
 */
export function retryableCall(failure: { kind: string; code: string; call?: number }): boolean {
  if (failure.call === undefined) return false;
  if (failure.kind === 'parse') return failure.code !== 'score/no-probabilities';
  return failure.kind === 'llm' && RETRYABLE_CALL_CODES.has(failure.code);
}

/**
 * An earlier result with the calls asked again (`fresh`, made with `calls` set to them) put in: every
 * example keeps its earlier prediction unless the fresh calls gave one; failures are the fresh ones
 * and the earlier ones of calls not asked again; usage and calls are of the fresh calls. Examples are
 * matched by position (the same record, explanation, settings and seed give the same order).
 */
export function completeScore(previous: Pick<ScoreResult, 'kind' | 'examples' | 'failures' | 'mode'>, fresh: ScoreResult, asked: ReadonlySet<number>): ScoreResult {
  if (previous.kind !== fresh.kind || previous.examples.length !== fresh.examples.length) return fresh;
  const failures = [...previous.failures.filter((f) => f.call === undefined || !asked.has(f.call)), ...fresh.failures].sort((a, b) => (a.call ?? -1) - (b.call ?? -1));
  const mode = previous.mode === fresh.mode ? fresh.mode : fresh.kind === 'classifier' ? 'text' : 'mixed';
  if (fresh.kind === 'classifier') {
    const before = previous.examples as ClassifierExample[];
    const examples = fresh.examples.map((e, i) => (e.prediction === null && before[i]!.prediction !== null ? { ...e, prediction: before[i]!.prediction, probability: before[i]!.probability, correct: before[i]!.correct } : e));
    return { ...fresh, failures, mode: mode as 'text', examples, metrics: classificationMetrics(examples) };
  }
  const before = previous.examples as SimulationExample[];
  const examples = fresh.examples.map((e, i) => (e.predicted === null && before[i]!.predicted !== null ? { ...e, predicted: before[i]!.predicted } : e));
  return { ...fresh, failures, mode: mode as 'mixed', examples, metrics: simulationMetrics(examples) };
}

type ClassifierExample = Extract<ScoreResult, { kind: 'classifier' }>['examples'][number];
type SimulationExample = Extract<ScoreResult, { kind: 'simulation' }>['examples'][number];
