/**
 * The scorer contract (delphi `scorers/`): a scorer turns a feature record and its explanation into
 * calls (chat messages, each about some of the feature's samples), reads each call's answer into
 * predictions, and puts the predictions and the truth together into example records and metrics.
 * Settings are plain data with defaults; a result is a plain, serialisable object. A call that failed
 * or an answer that could not be read leaves its samples without a prediction and is recorded as a
 * failure: never guessed, never scored.
 */
import { AppError } from '../errors.ts';
import type { ChatMessage, CompletionRequest, Failure, JsonRequest, TokenLogprob, Usage } from '../clients/index.ts';
import type { FeatureRecord } from '../latents/index.ts';
import type { ClassificationMetrics, SimulationMetrics } from '../metrics/index.ts';
import type { TextTokenizer } from '../types.ts';

/** How the simulation scorer asks for its predictions: tokens re-printed with values, or a JSON object. */
export type SimulationFormat = 'lines' | 'json';

export interface ScoreSettings {
  /** Examples per prompt for detection and fuzzing (delphi's `n_examples_shown`: 5). Simulation asks about one sequence per prompt. */
  examplesShown: number;
  /** Non-activating examples scored at most; as many as the record's test examples when undefined. */
  maxNonActivating?: number;
  /** Ask for token log-probabilities: the probability of "1" (classifiers, gives the AUC), the expected value (simulation, lines). */
  logprobs: boolean;
  /** Alternatives per answer position when log-probabilities are asked for (classifiers: 5; simulation: 11, so all of 0..10 can be listed). */
  topLogprobs: number;
  /** Fuzzing: tokens at or above this fraction of their example's max activation are marked (0.3). */
  threshold: number;
  /** Simulation only: 'lines' (re-print each token with its value) or 'json' (`{"activations": [{"token", "activation"}]}`). */
  simulationFormat: SimulationFormat;
  temperature: number;
  /** The answer's token cap; each call's own (from its size) when undefined. */
  maxTokens?: number;
  /** For reasoning models (`{effort: 'none'}` keeps the whole budget for the answer). */
  reasoning?: CompletionRequest['reasoning'];
}

export const DEFAULT_SCORE_SETTINGS: Readonly<ScoreSettings> = Object.freeze({
  examplesShown: 5,
  logprobs: false,
  topLogprobs: 5,
  threshold: 0.3,
  simulationFormat: 'lines',
  temperature: 0,
});

export const badScoreSettings = (what: string): AppError => new AppError('score/bad-settings', `Scorer settings: ${what}.`);

/** `defaults` with `partial` over them, checked. */
export function scoreSettings(partial: Partial<ScoreSettings> = {}, defaults: Readonly<ScoreSettings> = DEFAULT_SCORE_SETTINGS): ScoreSettings {
  const given = Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined)) as Partial<ScoreSettings>;
  const settings: ScoreSettings = { ...defaults, ...given };
  const bad = badScoreSettings;
  if (!(Number.isInteger(settings.examplesShown) && settings.examplesShown >= 1 && settings.examplesShown <= 50)) throw bad(`examples per prompt must be a whole number from 1 to 50 (got ${settings.examplesShown})`);
  if (settings.maxNonActivating !== undefined && !(Number.isInteger(settings.maxNonActivating) && settings.maxNonActivating >= 0)) throw bad(`the number of non-activating examples must be a whole number from 0 (got ${settings.maxNonActivating})`);
  if (typeof settings.logprobs !== 'boolean') throw bad(`logprobs must be true or false (got ${String(settings.logprobs)})`);
  if (!(Number.isInteger(settings.topLogprobs) && settings.topLogprobs >= 1 && settings.topLogprobs <= 20)) throw bad(`top logprobs must be a whole number from 1 to 20 (got ${settings.topLogprobs})`);
  if (!(settings.threshold >= 0 && settings.threshold < 1)) throw bad(`the marking threshold must be from 0 to below 1 (got ${settings.threshold})`);
  if (settings.simulationFormat !== 'lines' && settings.simulationFormat !== 'json') throw bad(`the simulation format must be 'lines' or 'json' (got ${String(settings.simulationFormat)})`);
  if (!(settings.temperature >= 0 && settings.temperature <= 2)) throw bad(`the temperature must be from 0 to 2 (got ${settings.temperature})`);
  if (settings.maxTokens !== undefined && !(Number.isInteger(settings.maxTokens) && settings.maxTokens >= 16)) throw bad(`max tokens must be a whole number from 16 (some providers refuse less; got ${settings.maxTokens})`);
  return settings;
}

/** One call of a feature's scoring: the messages, and which of the feature's samples they ask about. */
export interface ScoreCall {
  /** Indexes into the feature's samples, in the order the prompt shows them. */
  samples: number[];
  messages: ChatMessage[];
  /** max_tokens when the settings leave it open. */
  maxTokens: number;
  /** About how many tokens the answer takes (cost estimates). */
  answerTokens: number;
  /** Alternatives per position to ask for; none asked when undefined. */
  topLogprobs?: number;
  json?: JsonRequest;
}

/** What a call's answer offers to read. */
export interface ScoreAnswer {
  text: string;
  logprobs?: readonly TokenLogprob[];
  /** The answer parsed as JSON, when JSON was asked for. */
  json?: unknown;
}

/** One example of a classifier scorer's result (delphi's per-example record, the same keys). */
export interface ClassifiedExample {
  /** The example's tokens as text, each decoded on its own. */
  str_tokens: string[];
  activations: number[];
  /** The example's quantile, 0 the strongest; -1 for non-activating examples. */
  distance: number;
  /** Ground truth: the feature fires in this example. */
  activating: boolean;
  /** The model's verdict (1: fits the explanation), or null when it gave none that could be read. */
  prediction: number | null;
  /** Probability of "1" from log-probabilities, or null without them. */
  probability: number | null;
  /** Whether the verdict matches the truth; null without a verdict. */
  correct: boolean | null;
  /** Fuzzing: the tokens the prompt marked. */
  marked?: boolean[];
}

/** One sequence of the simulation scorer's result. */
export interface SimulatedExample {
  str_tokens: string[];
  /** True activations, as the record has them (raw). */
  activations: number[];
  distance: number;
  activating: boolean;
  /** The predicted activation (0..10) of each token, or null when the answer could not be used. */
  predicted: number[] | null;
}

/** Classifiers: whether verdicts came with probabilities. */
export type ClassifierMode = 'logprobs' | 'text';
/**
 * Simulation: where the values came from: expected values from log-probabilities at every value
 * slot, the integers written, both (some slots had no usable alternatives), or a JSON object.
 */
export type SimulationMode = 'expected-value' | 'integers' | 'mixed' | 'json';

export type ScoreOutcome =
  | { kind: 'classifier'; mode: ClassifierMode; examples: ClassifiedExample[]; metrics: ClassificationMetrics }
  | { kind: 'simulation'; mode: SimulationMode; examples: SimulatedExample[]; metrics: SimulationMetrics };

/** A failure of one call (its index among the feature's calls), or of the feature (no `call`). */
export interface ScoreFailure extends Failure {
  call?: number;
}

/** One feature scored: a plain, serialisable object. */
export type ScoreResult = {
  feature: number;
  hook: string;
  /** The scorer's id. */
  scorer: string;
  model: string;
  /** The explanation scored. */
  explanation: string;
  settings: ScoreSettings;
  seed: number;
  /** Each call's answer as the model wrote it, in call order; null where no answer came. */
  raw: (string | null)[];
  failures: ScoreFailure[];
  /** What the feature's calls consumed (their retries included). */
  usage: Usage;
  calls: number;
  /** HTTP attempts over all calls. */
  attempts: number;
} & ScoreOutcome;

export type ClassifierScoreResult = Extract<ScoreResult, { kind: 'classifier' }>;
export type SimulationScoreResult = Extract<ScoreResult, { kind: 'simulation' }>;

/** What a scorer prepares a feature from. */
export interface ScoreInput {
  record: FeatureRecord;
  explanation: string;
  tokenizer: TextTokenizer;
  settings: ScoreSettings;
  seed: number;
}

/** One feature's scoring in progress: its calls, and where their answers go. */
export interface ScoreTask {
  calls: ScoreCall[];
  /** Reads call `index`'s answer; a failure when (part of) it could not be used. Calls never read keep their samples without prediction. */
  read(index: number, answer: ScoreAnswer): ScoreFailure | undefined;
  /** Examples and metrics from what was read. */
  finish(): ScoreOutcome;
}

export interface ScorerDefinition {
  /** Registry key, stored in results: 'detection', 'fuzzing', 'simulation'. */
  id: string;
  label: string;
  /** Other names the commands take for it (delphi's `fuzz`). */
  aliases?: readonly string[];
  /** Its series' colour in every chart. */
  colour: string;
  /** Run when the user names no scorers. */
  byDefault?: boolean;
  /** A note for the scorer's checkbox (what it costs). */
  note?: string;
  description: string;
  kind: ScoreOutcome['kind'];
  /** This scorer's defaults (the settings the caller leaves open). */
  defaults: Readonly<ScoreSettings>;
  /** Throws `score/bad-settings` for settings this scorer cannot work with. */
  check?(settings: ScoreSettings): void;
  prepare(input: ScoreInput): ScoreTask;
}
