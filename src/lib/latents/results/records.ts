/**
 * delphi's per-example score records, checked and brought to one shape. delphi has written them in a
 * few ways over time, all accepted on reading:
 *   - `prediction` as the LLM's 0/1 or as a boolean (`true` -> 1), or null when the answer did not parse;
 *   - `probability` missing (versions without log-probabilities) -> null;
 *   - `ground_truth` instead of `activating` (sae-auto-interp, delphi's predecessor);
 *   - extra keys (`highlighted`, ...), which are dropped.
 */
import { AppError, type ErrorCode } from '../../errors.ts';
import type { DelphiScoreExample } from './types.ts';

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

const describe = (value: unknown): string => {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
};

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/**
 * Checks one record (`where` names it for the message: file and index) and returns it with exactly
 * delphi's seven keys, in delphi's order. Throws `code` (results/bad-file when reading,
 * results/bad-input when writing) naming the first key that is wrong.
 */
export function normalizeScoreExample(raw: unknown, where: string, code: ErrorCode): DelphiScoreExample {
  const fail = (key: string, expected: string, value: unknown): never => {
    throw new AppError(code, `${where}: "${key}" should be ${expected} but is ${describe(value)}. delphi's score records have str_tokens, activations, distance, activating, prediction, probability and correct.`);
  };
  if (!isRecord(raw)) {
    throw new AppError(code, `${where} should be a record (an object with str_tokens, activations, distance, activating, prediction, probability, correct) but is ${describe(raw)}.`);
  }
  const tokens = raw.str_tokens;
  if (!Array.isArray(tokens)) fail('str_tokens', 'an array of strings', tokens);
  const badToken = (tokens as unknown[]).findIndex((token) => typeof token !== 'string');
  if (badToken >= 0) fail(`str_tokens[${badToken}]`, 'a string', (tokens as unknown[])[badToken]);
  const activations = raw.activations;
  if (!Array.isArray(activations)) fail('activations', 'an array of numbers', activations);
  const badActivation = (activations as unknown[]).findIndex((value) => !finite(value));
  if (badActivation >= 0) fail(`activations[${badActivation}]`, 'a finite number', (activations as unknown[])[badActivation]);
  if (!finite(raw.distance)) fail('distance', 'a number (the quantile; -1 for non-activating examples)', raw.distance);
  const activating = 'activating' in raw || !('ground_truth' in raw) ? raw.activating : raw.ground_truth;
  if (typeof activating !== 'boolean') fail('activating', 'true or false', activating);
  const prediction = raw.prediction;
  if (!(prediction === null || typeof prediction === 'boolean' || finite(prediction))) fail('prediction', '0, 1, true, false or null', prediction);
  const probability = raw.probability === undefined ? null : raw.probability;
  if (!(probability === null || finite(probability))) fail('probability', 'a number or null', probability);
  const correct = raw.correct;
  if (!(correct === null || typeof correct === 'boolean')) fail('correct', 'true, false or null', correct);
  return {
    str_tokens: (tokens as string[]).slice(),
    activations: (activations as number[]).slice(),
    distance: raw.distance as number,
    activating: activating as boolean,
    prediction: typeof prediction === 'boolean' ? (prediction ? 1 : 0) : (prediction as number | null),
    probability: probability as number | null,
    correct: correct as boolean | null,
  };
}

/** A score file's text: a JSON array of records, parsed and checked. */
export function parseScoreFile(text: string, path: string): DelphiScoreExample[] {
  const data = parseJson(text, path);
  if (!Array.isArray(data)) {
    throw new AppError('results/bad-file', `${path} should hold a JSON array of scored examples (delphi's scores/<scorer>/<hook>_latent<f>.txt) but holds ${describe(data)}.`);
  }
  return data.map((record, i) => normalizeScoreExample(record, `${path}, example ${i}`, 'results/bad-file'));
}

/** An explanation file's text: one JSON string. */
/**
 * Characters an explanation may have unless a run says otherwise: longer is a failure of the explainer,
 * and a scorer refuses it, since every scoring prompt carries it (one endpoint's 5 MB "explanation"
 * would cost dollars a feature).
 */
export const MAX_EXPLANATION_CHARS = 1000;

export function parseExplanationFile(text: string, path: string): string {
  const data = parseJson(text, path);
  if (typeof data !== 'string') {
    throw new AppError('results/bad-file', `${path} should hold the explanation as a JSON string (delphi writes "text in quotes") but holds ${describe(data)}.`);
  }
  return data;
}

function parseJson(text: string, path: string): unknown {
  if (text.trim() === '') throw new AppError('results/bad-file', `${path} is empty; delphi writes JSON there.`);
  try {
    return JSON.parse(text);
  } catch (error) {
    const start = text.trimStart().slice(0, 40);
    throw new AppError('results/bad-file', `${path} is not JSON (${(error as Error).message}); it starts with ${JSON.stringify(start)}. delphi writes explanations as a JSON string and scores as a JSON array.`);
  }
}

/**
 * One record of a simulation score file (`scores/simulation/<hook>_latent<f>.txt`, a JSON array): a
 * sequence's tokens, true activations, quantile and ground truth, and the predicted activation (0..10)
 * of each token, null when the answer for the sequence could not be used.
 */
export interface SimulationScoreRecord {
  str_tokens: string[];
  activations: number[];
  distance: number;
  activating: boolean;
  predicted: number[] | null;
}

/** The records of a simulation score file, in this key order. */
export const simulationScoreRecords = (sequences: readonly SimulationScoreRecord[]): SimulationScoreRecord[] =>
  sequences.map((s) => ({ str_tokens: s.str_tokens, activations: s.activations, distance: s.distance, activating: s.activating, predicted: s.predicted }));

/** A simulation score file's text, parsed and checked. */
export function parseSimulationScoreFile(text: string, path: string): SimulationScoreRecord[] {
  const data = parseJson(text, path);
  if (!Array.isArray(data)) throw new AppError('results/bad-file', `${path} should hold a JSON array of simulated sequences but holds ${describe(data)}.`);
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  return data.map((raw: unknown, i) => {
    const r = raw as Partial<SimulationScoreRecord> | null;
    const ok =
      r && typeof r === 'object' && Array.isArray(r.str_tokens) && Array.isArray(r.activations) && r.activations.every(finite) && typeof r.activating === 'boolean' && finite(r.distance) &&
      (r.predicted === null || (Array.isArray(r.predicted) && r.predicted.every(finite)));
    if (!ok) throw new AppError('results/bad-file', `${path}, sequence ${i}: should have str_tokens, activations (numbers), distance, activating and predicted (numbers or null).`);
    return simulationScoreRecords([r as SimulationScoreRecord])[0]!;
  });
}
