/**
 * The scorers against the LLM stand-in over real HTTP (scripts/servers/llm-server.ts), end to end:
 * the stand-in explains a feature, then scores its own explanation. Detection, fuzzing and simulation
 * give sensible scores (perfect for the right explanation; chance, or an undefined correlation, for a
 * wrong one), log-probabilities give probabilities and an AUC, and a model that drops them, or cannot
 * give them, is handled as the contract says.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startLlmServer, type LlmServer } from '../../../scripts/servers/llm-server.ts';
import { createLlmClient, openRouterClient, type LlmClient } from '../../../src/lib/clients/index.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { explainFeature } from '../../../src/lib/explainers/index.ts';
import { scoreFeature, type ScoreResult } from '../../../src/lib/scorers/index.ts';
import type { ClassificationMetrics, SimulationMetrics } from '../../../src/lib/metrics/index.ts';
import { failure } from '../../support/async.ts';
import { scoreRecord, wordTokenizer } from './fixtures.ts';

const tokenizer = wordTokenizer();
const WORD = 'lantern';
const base = scoreRecord(tokenizer, 9, { word: WORD, tests: 20, negatives: 20 });
const record = { ...base, train: base.test.slice(0, 8) };
const MODEL = 'stand-in/explainer';

let server: LlmServer;
let client: LlmClient;
let explanation: string;
beforeAll(async () => {
  server = await startLlmServer();
  client = createLlmClient({ baseUrl: server.openAiBase });
  const explained = await explainFeature(record, { client, model: MODEL, tokenizer });
  explanation = explained.explanation!;
});
afterAll(() => server.close());

const score = (scorer: string, settings = {}, text = explanation, using = client) => scoreFeature(record, text, { client: using, model: MODEL, tokenizer, scorer, settings });
const cm = (result: ScoreResult) => result.metrics as ClassificationMetrics;
const sm = (result: ScoreResult) => result.metrics as SimulationMetrics;
const probabilities = (result: ScoreResult) => (result.kind === 'classifier' ? result.examples.map((e) => e.probability) : []);

describe('the stand-in scores its own explanation', () => {
  test('the explanation it gave', () => {
    expect(explanation).toBe(`the word "${WORD}"`);
  });

  test.each(['detection', 'fuzzing'])('%s: every verdict right; no probabilities without logprobs', async (scorer) => {
    const result = await score(scorer);
    expect(result.failures).toEqual([]);
    expect(result.calls).toBe(8); // 40 samples, 5 a prompt
    expect(result.metrics).toMatchObject({ balanced_accuracy: 1, precision: 1, recall: 1, f1: 1, auc: null, failed: 0 });
    expect(result.mode).toBe('text');
    expect(result.usage.promptTokens).toBeGreaterThan(0);
  });

  test.each(['detection', 'fuzzing'])('%s with logprobs: p("1") = 0.8 or 0.2 from the alternatives, AUC 1', async (scorer) => {
    const result = await score(scorer, { logprobs: true });
    expect(result.failures).toEqual([]);
    expect(result.mode).toBe('logprobs');
    expect(new Set(probabilities(result).map((p) => p!.toFixed(6)))).toEqual(new Set(['0.800000', '0.200000']));
    expect(cm(result).auc).toBe(1);
  });

  test('simulation: lines, lines with expected values, JSON: a high correlation, each mode recorded', async () => {
    const lines = await score('simulation');
    const expected = await score('simulation', { logprobs: true });
    const json = await score('simulation', { simulationFormat: 'json' });
    for (const result of [lines, expected, json]) {
      expect(result.failures).toEqual([]);
      expect(result.calls).toBe(40);
      expect(sm(result).pearson).toBeGreaterThan(0.9);
    }
    expect([lines.mode, expected.mode, json.mode]).toEqual(['integers', 'expected-value', 'json']);
    // The stand-in puts 0.8 on the value it writes and 0.02 on each other: the expected values.
    if (expected.kind !== 'simulation') throw new Error('kind');
    expect(new Set(expected.examples.flatMap((e) => e.predicted!.map((v) => v.toFixed(6))))).toEqual(new Set(['8.900000', '1.100000']));
    expect(sm(expected).pearson).toBeCloseTo(sm(lines).pearson!, 10);
  });

  test('a wrong explanation: detection at chance, simulation undefined (every prediction 0), never a made-up 0', async () => {
    const detection = await score('detection', {}, 'the word "banana"');
    expect(detection.metrics).toMatchObject({ balanced_accuracy: 0.5, recall: 0, precision: null, failed: 0 });
    const simulation = await score('simulation', {}, 'the word "banana"');
    expect(simulation.failures).toEqual([]);
    expect(sm(simulation).pearson).toBeNull();
  });
});

describe('log-probabilities that a model cannot give', () => {
  test('dropped by the model (":free" returns logprobs null): recorded per call, verdicts still read', async () => {
    const result = await scoreFeature(record, explanation, { client, model: `${MODEL}:free`, tokenizer, scorer: 'detection', settings: { logprobs: true } });
    expect(result.failures).toHaveLength(8);
    expect(result.failures.every((f) => f.code === 'llm/no-logprobs')).toBe(true);
    expect(result.metrics).toMatchObject({ balanced_accuracy: 1, auc: null });
  });

  test('refused on every provider (OpenRouter, require_parameters): thrown as llm/unsupported, for the run to stop', async () => {
    const openRouter = openRouterClient({ baseUrl: server.openRouterBase, apiKey: 'sk-test' });
    const error = await failure(() => scoreFeature(record, explanation, { client: openRouter, model: 'stand-in/no-logprobs', tokenizer, scorer: 'fuzzing', settings: { logprobs: true } }));
    expect(errorCode(error)).toBe('llm/unsupported');
    expect(error.message).toMatch(/cannot do token log-probabilities/);
  });
});
