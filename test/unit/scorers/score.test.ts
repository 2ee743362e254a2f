/**
 * Scoring one feature against a scripted client: detection, fuzzing and simulation with answers
 * written by hand, metrics from them, failed calls and unreadable answers left without prediction
 * (recorded, never guessed), log-probabilities read (or their absence recorded), fatal errors and
 * cancellation thrown, settings checked, results plain data.
 */
import { describe, expect, test } from 'vitest';
import { LlmError, scriptedClient, type Completion, type CompletionRequest, type TokenLogprob } from '../../../src/lib/clients/index.ts';
import { AppError, errorCode } from '../../../src/lib/errors.ts';
import { pearson, type ClassificationMetrics, type SimulationMetrics } from '../../../src/lib/metrics/index.ts';
import { scoreFeature, type ClassifiedExample, type ScoreResult, type SimulatedExample } from '../../../src/lib/scorers/index.ts';
import { failure } from '../../support/async.ts';
import { scoreRecord, wordTokenizer } from './fixtures.ts';

const tokenizer = wordTokenizer();
const WORD = 'violin';
const record = scoreRecord(tokenizer, 3, { word: WORD, tests: 10, negatives: 10 });
const EXPLANATION = 'the word "violin"';
const usage = { promptTokens: 100, completionTokens: 5, cost: 0.001 };

const lastUser = (request: CompletionRequest) => request.messages.at(-1)!.content;
/** The excerpts of a classifier prompt's last message. */
const excerpts = (request: CompletionRequest) => [...lastUser(request).matchAll(/^Example \d+: (.*)$/gm)].map((m) => m[1]!);
/** The tokens of a simulation prompt's last message. */
const simTokens = (request: CompletionRequest) => [...lastUser(request).matchAll(/^(.*)\tunknown$/gm)].map((m) => m[1]!);

const list = (verdicts: number[]) => `[${verdicts.join(', ')}]`;

/** A completion of `verdicts` whose log-probabilities give each verdict position p("1") = probabilities[i]. */
function withLogprobs(verdicts: number[], probabilities: number[]): Partial<Completion> & { text: string } {
  const logprobs: TokenLogprob[] = [{ token: '[', logprob: 0, top: [{ token: '[', logprob: 0 }] }];
  verdicts.forEach((v, i) => {
    if (i) logprobs.push({ token: ', ', logprob: 0, top: [{ token: ', ', logprob: 0 }] });
    const p1 = probabilities[i]!;
    const top = [{ token: '1', logprob: Math.log(p1) }, { token: '0', logprob: Math.log(1 - p1) }].sort((a, b) => b.logprob - a.logprob);
    logprobs.push({ token: String(v), logprob: Math.log(v ? p1 : 1 - p1), top });
  });
  logprobs.push({ token: ']', logprob: 0, top: [{ token: ']', logprob: 0 }] });
  return { text: list(verdicts), logprobs, usage };
}

const classified = (result: ScoreResult): ClassifiedExample[] => {
  if (result.kind !== 'classifier') throw new Error('not a classifier result');
  return result.examples;
};
const cm = (result: ScoreResult): ClassificationMetrics => {
  if (result.kind !== 'classifier') throw new Error('not a classifier result');
  return result.metrics;
};
const sm = (result: ScoreResult): SimulationMetrics => {
  if (result.kind !== 'simulation') throw new Error('not a simulation result');
  return result.metrics;
};
const simulated = (result: ScoreResult): SimulatedExample[] => {
  if (result.kind !== 'simulation') throw new Error('not a simulation result');
  return result.examples;
};

test('an explanation longer than the limit (1000 characters unless given) is refused: nothing asked, the feature named', async () => {
  const client = scriptedClient(() => '[1, 1, 1, 1, 1]');
  const long = `the word "violin" ${'and more '.repeat(200)}`;
  const result = await scoreFeature(record, long, { client, model: 'm', tokenizer, scorer: 'detection' });
  expect(client.requests).toHaveLength(0);
  expect(result.failures).toEqual([{ kind: 'input', code: 'score/explanation-too-long', message: `The explanation of feature 3 (${record.hook}) has 1,818 characters, more than the 1,000 a scorer is sent: not scored (every prompt would carry it).` }]);
  expect(result.calls).toBe(0);
  await scoreFeature(record, long, { client, model: 'm', tokenizer, scorer: 'detection', maxExplanationChars: 2000 });
  expect(client.requests.length).toBeGreaterThan(0);
});

describe('detection', () => {
  test('an answer that knows the feature: perfect scores; 20 samples in 4 calls of 5; plain records', async () => {
    const client = scriptedClient((request) => ({ text: list(excerpts(request).map((text) => (text.includes(WORD) ? 1 : 0))), usage }));
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, scorer: 'detection' });
    expect(client.requests).toHaveLength(4);
    for (const request of client.requests) {
      expect(excerpts(request)).toHaveLength(5);
      expect(lastUser(request)).toMatch(/^Explanation: the word "violin"\n\nExample 1: /);
      expect(lastUser(request)).not.toContain('<<');
      expect(request.topLogprobs).toBeUndefined();
    }
    expect(result).toMatchObject({ kind: 'classifier', scorer: 'detection', feature: 3, model: 'm', explanation: EXPLANATION, mode: 'text', seed: 22, calls: 4, attempts: 4, failures: [] });
    expect(result.metrics).toMatchObject({ balanced_accuracy: 1, precision: 1, recall: 1, f1: 1, auc: null, failed: 0 });
    expect(result.usage).toEqual({ promptTokens: 400, completionTokens: 20, cost: 0.004 });
    const examples = classified(result);
    expect(examples).toHaveLength(20);
    expect(Object.keys(examples[0]!)).toEqual(['str_tokens', 'activations', 'distance', 'activating', 'prediction', 'probability', 'correct']);
    expect(examples.filter((e) => e.activating).map((e) => e.distance).sort()).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    expect(examples.filter((e) => !e.activating).every((e) => e.distance === -1)).toBe(true);
    expect(examples.every((e) => e.correct === true && e.probability === null)).toBe(true);
    expect(examples.find((e) => e.activating)!.str_tokens.join('')).toContain(` ${WORD}`);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  test('an answer that says 1 to everything: recall 1, precision 1/2, balanced accuracy 1/2, F1 2/3', async () => {
    const client = scriptedClient((request) => list(excerpts(request).map(() => 1)));
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer });
    expect(result.scorer).toBe('detection');
    expect(result.metrics).toMatchObject({ balanced_accuracy: 0.5, precision: 0.5, recall: 1, failed: 0 });
    expect((result.metrics as { f1: number }).f1).toBeCloseTo(2 / 3, 12);
  });

  test('garbage, a wrong-length list and a failed call leave their batches without prediction, recorded', async () => {
    const client = scriptedClient((request, call) => {
      if (call === 1) return { text: 'All of these look musical to me.', usage };
      if (call === 2) return { text: '[1, 0, 1]', usage };
      if (call === 3) return new LlmError('llm/server', 'llm.test failed to answer (500). Gave up after 4 attempts.', { retryable: true, attempts: 4, usage: { promptTokens: 0, completionTokens: 0 } });
      return { text: list(excerpts(request).map((text) => (text.includes(WORD) ? 1 : 0))), usage };
    });
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer });
    expect(result.failures).toEqual([
      { kind: 'parse', code: 'score/unparseable', message: expect.stringContaining('no list of 0s and 1s'), call: 1 },
      { kind: 'parse', code: 'score/wrong-length', message: 'The answer lists 3 verdicts for 5 examples.', call: 2 },
      { kind: 'llm', code: 'llm/server', message: expect.stringContaining('Gave up after 4 attempts'), call: 3 },
    ]);
    expect(result.raw[0]).toMatch(/^\[[01](, [01]){4}\]$/);
    expect(result.raw.slice(1)).toEqual(['All of these look musical to me.', '[1, 0, 1]', null]);
    expect(result.attempts).toBe(1 + 1 + 1 + 4);
    const examples = classified(result);
    expect(examples.slice(0, 5).every((e) => e.prediction !== null && e.correct === true)).toBe(true);
    expect(examples.slice(5).every((e) => e.prediction === null && e.correct === null && e.probability === null)).toBe(true);
    expect(result.metrics.failed).toBe(15);
    expect((result.metrics as { counts: { total: number } }).counts.total).toBe(5);
  });

  test('every call failing: the result still comes back, every example without prediction, metrics null', async () => {
    const client = scriptedClient(() => 'no idea');
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer });
    expect(result.failures).toHaveLength(4);
    expect(result.metrics).toMatchObject({ balanced_accuracy: null, precision: null, recall: null, f1: null, auc: null, failed: 20 });
  });

  test('log-probabilities: asked for (top 5), p1 / (p0 + p1) at each verdict, AUC from them', async () => {
    const client = scriptedClient((request) => {
      const texts = excerpts(request);
      // Verdicts right; probabilities 0.9 for the word, else 0.3 (and 0.6 for one negative per call).
      return withLogprobs(texts.map((t) => (t.includes(WORD) ? 1 : 0)), texts.map((t, i) => (t.includes(WORD) ? 0.9 : i === 0 ? 0.6 : 0.3)));
    });
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, settings: { logprobs: true } });
    expect(client.requests.every((r) => r.topLogprobs === 5)).toBe(true);
    expect(result.mode).toBe('logprobs');
    const examples = classified(result);
    for (const e of examples) expect(e.probability).toBeCloseTo(e.activating ? 0.9 : (e.probability! > 0.5 ? 0.6 : 0.3), 12);
    expect(cm(result).auc).toBe(1);
    expect(result.failures).toEqual([]);
  });

  test('log-probabilities that did not come (llm/no-logprobs): recorded, and the text still read', async () => {
    const client = scriptedClient((request) => new LlmError('llm/no-logprobs', 'm answered without the token log-probabilities that were asked for.', { retryable: false, text: list(excerpts(request).map((t) => (t.includes(WORD) ? 1 : 0))), usage, attempts: 1 }));
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, settings: { logprobs: true } });
    expect(result.failures.map((f) => f.code)).toEqual(['llm/no-logprobs', 'llm/no-logprobs', 'llm/no-logprobs', 'llm/no-logprobs']);
    expect(result.metrics).toMatchObject({ balanced_accuracy: 1, auc: null, failed: 0 });
    expect(result.mode).toBe('text');
    expect(result.usage.promptTokens).toBe(400);
  });

  test('log-probabilities without the verdicts\' alternatives: verdicts kept, probabilities null, recorded', async () => {
    const client = scriptedClient((request) => {
      // Tokens that neither spell the answer nor hold its verdicts.
      return { text: list(excerpts(request).map(() => 0)), logprobs: [{ token: 'x', logprob: -1, top: [{ token: 'x', logprob: -1 }] }] };
    });
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, settings: { logprobs: true } });
    expect(new Set(result.failures.map((f) => f.code))).toEqual(new Set(['score/no-probabilities']));
    expect(classified(result).every((e) => e.prediction === 0 && e.probability === null)).toBe(true);
    expect(cm(result).auc).toBeNull();
  });
});

describe('fuzzing', () => {
  test('activating excerpts are marked on the word; an answer that checks the marks scores perfectly', async () => {
    const client = scriptedClient((request) =>
      list(excerpts(request).map((text) => {
        const spans = [...text.matchAll(/<<(.*?)>>/g)].map((m) => m[1]!);
        return spans.length > 0 && spans.every((span) => span.includes(WORD)) ? 1 : 0;
      })),
    );
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, scorer: 'fuzzing' });
    expect(result.metrics).toMatchObject({ balanced_accuracy: 1, f1: 1, failed: 0 });
    const all = client.requests.flatMap(excerpts);
    expect(all.filter((t) => t.includes(`<<${WORD}>>`))).toHaveLength(10);
    expect(all.every((t) => t.includes('<<'))).toBe(true);
    const examples = classified(result);
    // Each negative carries one false mark (the activating ones have one each).
    for (const e of examples.filter((e) => !e.activating)) expect(e.marked!.filter(Boolean)).toHaveLength(1);
    for (const e of examples.filter((e) => e.activating)) expect(e.str_tokens.filter((_, i) => e.marked![i]).map((t) => t.trim())).toEqual([WORD]);
  });
});

describe('simulation', () => {
  /** Answers 10 on the word, 0 elsewhere, as lines. */
  const lines = (request: CompletionRequest) => simTokens(request).map((token) => `${token}\t${token.trim() === WORD ? 10 : 0}`).join('\n');
  const truthAndPrediction = (examples: SimulatedExample[]) => {
    const x: number[] = [];
    const y: number[] = [];
    for (const e of examples) if (e.predicted) (x.push(...e.activations), y.push(...e.predicted));
    return [x, y] as const;
  };

  test('lines: one call per sequence (10 test + 10 non-activating); pooled correlation over every token', async () => {
    const client = scriptedClient((request) => ({ text: lines(request), usage }));
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, scorer: 'simulation' });
    expect(client.requests).toHaveLength(20);
    expect(result).toMatchObject({ kind: 'simulation', mode: 'integers', calls: 20, failures: [] });
    const examples = simulated(result);
    expect(Object.keys(examples[0]!)).toEqual(['str_tokens', 'activations', 'distance', 'activating', 'predicted']);
    const [x, y] = truthAndPrediction(examples);
    expect(sm(result).pearson).toBeCloseTo(pearson(x, y)!, 12);
    expect(sm(result).pearson).toBeGreaterThan(0.9);
    // Non-activating sequences are all zero: their own correlation is undefined.
    expect((result.metrics as { per_quantile: { distance: number; pearson: number | null }[] }).per_quantile.at(-1)).toMatchObject({ distance: -1, pearson: null });
    expect(client.requests[0]!.topLogprobs).toBeUndefined();
    expect(client.requests[0]!.json).toBeUndefined();
  });

  test('a sequence whose tokens do not come back is left without prediction, recorded', async () => {
    const client = scriptedClient((request, call) => (call === 4 ? lines(request).replace(WORD, 'viola') : call === 5 ? lines(request).split('\n').slice(1).join('\n') : lines(request)));
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, scorer: 'simulation' });
    expect(result.failures.map((f) => [f.code, f.call])).toEqual([
      ['score/token-mismatch', 4],
      ['score/wrong-length', 5],
    ]);
    const examples = simulated(result);
    expect(examples[4]!.predicted).toBeNull();
    expect(examples[5]!.predicted).toBeNull();
    expect(result.metrics).toMatchObject({ failed: 2, sequences: 18 });
  });

  test('lines with log-probabilities (top 11): the expected value at each slot; a "10" cut in two tokens keeps its integer (mode mixed)', async () => {
    const dist = (written: number) => Array.from({ length: 11 }, (_, v) => ({ token: String(v), logprob: Math.log(v === written ? 0.8 : 0.02) }));
    const build = (request: CompletionRequest, split: boolean): Partial<Completion> & { text: string } => {
      const logprobs: TokenLogprob[] = [];
      simTokens(request).forEach((token, i) => {
        const value = token.trim() === WORD ? 10 : 0;
        if (i) logprobs.push({ token: '\n', logprob: 0, top: [] });
        logprobs.push({ token: `${token}\t`, logprob: 0, top: [] });
        if (split && value === 10) logprobs.push({ token: '1', logprob: Math.log(0.8), top: dist(1) }, { token: '0', logprob: 0, top: [] });
        else logprobs.push({ token: String(value), logprob: Math.log(0.8), top: dist(value) });
      });
      return { text: lines(request), logprobs, usage };
    };
    const exact = await scoreFeature(record, EXPLANATION, { client: scriptedClient((r) => build(r, false)), model: 'm', tokenizer, scorer: 'simulation', settings: { logprobs: true } });
    expect(exact.mode).toBe('expected-value');
    const values = new Set(simulated(exact).flatMap((e) => e.predicted!.map((v) => v.toFixed(6))));
    expect(values).toEqual(new Set([(8 + 0.02 * 45).toFixed(6), (0.02 * 55).toFixed(6)]));
    // Expected values here are an affine map of the integers: the same correlation.
    const integers = await scoreFeature(record, EXPLANATION, { client: scriptedClient((r) => lines(r)), model: 'm', tokenizer, scorer: 'simulation' });
    expect(sm(exact).pearson).toBeCloseTo(sm(integers).pearson!, 10);

    const client = scriptedClient((r) => build(r, true));
    const mixed = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, scorer: 'simulation', settings: { logprobs: true } });
    expect(client.requests[0]!.topLogprobs).toBe(11);
    expect(mixed.mode).toBe('mixed');
    expect(simulated(mixed).find((e) => e.activating)!.predicted).toContain(10);
  });

  test('JSON: asked for as JSON, no log-probabilities; mode json', async () => {
    const client = scriptedClient((request) => {
      const json = { activations: simTokens(request).map((token) => ({ token, activation: token.trim() === WORD ? 10 : 0 })) };
      return { text: JSON.stringify(json), json };
    });
    const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, scorer: 'simulation', settings: { simulationFormat: 'json', logprobs: true } });
    expect(client.requests[0]).toMatchObject({ json: true });
    expect(client.requests[0]!.topLogprobs).toBeUndefined();
    expect(result.mode).toBe('json');
    expect(sm(result).pearson).toBeGreaterThan(0.9);
  });

  test('tokens with line breaks and tabs are written escaped, one per line, and match when echoed', async () => {
    const text = 'A line\nbreak\tand a violin';
    const tokens = tokenizer.encode(text);
    const odd = { ...record, test: [{ row: 0, start: 0, tokens, activations: tokens.map((id) => (tokenizer.decode([id]).trim() === WORD ? 5 : 0)), normalized: tokens.map(() => 0), quantile: 0 }], non_activating: [] };
    const client = scriptedClient((request) => lines(request));
    const result = await scoreFeature(odd, EXPLANATION, { client, model: 'm', tokenizer, scorer: 'simulation' });
    // The word tokenizer keeps a line break or tab with the word after it.
    expect(simTokens(client.requests[0]!)).toEqual(['A', ' line', '\\nbreak', '\\tand', ' a', ' violin']);
    expect(result.failures).toEqual([]);
    expect(simulated(result)[0]!.str_tokens).toEqual(['A', ' line', '\nbreak', '\tand', ' a', ' violin']);
    expect(simulated(result)[0]!.predicted).toEqual([0, 0, 0, 0, 0, 10]);
  });
});

describe('what stops, and what is refused', () => {
  test.each([
    ['a refused key', new LlmError('llm/unauthorized', 'refused the API key', { retryable: false })],
    ['no credits', new LlmError('llm/no-credits', 'no credits left', { retryable: false })],
    ['the budget', new LlmError('llm/budget', 'budget spent', { retryable: false })],
  ])('%s is thrown, for the run to stop on', async (_, error) => {
    const client = scriptedClient((request, call) => (call === 2 ? error : list(excerpts(request).map(() => 0))));
    expect(errorCode(await failure(() => scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer })))).toBe(errorCode(error));
  });

  test('cancelling throws cancelled', async () => {
    const controller = new AbortController();
    const client = scriptedClient((request, call) => {
      if (call === 1) controller.abort();
      return list(excerpts(request).map(() => 0));
    });
    const error = await failure(() => scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, signal: controller.signal }));
    expect(errorCode(error)).toBe('cancelled');
    expect(client.requests).toHaveLength(2);
  });

  test('nothing to ask: no test examples, or no explanation: a result with an input failure, no call', async () => {
    const client = scriptedClient(() => '[0]');
    const none = await scoreFeature({ ...record, test: [] }, EXPLANATION, { client, model: 'm', tokenizer });
    expect(none).toMatchObject({ failures: [{ kind: 'input', code: 'score/no-examples' }], calls: 0, examples: [], raw: [] });
    expect(none.metrics).toMatchObject({ balanced_accuracy: null, failed: 0 });
    const blank = await scoreFeature(record, '  ', { client, model: 'm', tokenizer, scorer: 'simulation' });
    expect(blank).toMatchObject({ kind: 'simulation', failures: [{ kind: 'input', code: 'score/no-explanation' }], metrics: { pearson: null } });
    expect(client.requests).toHaveLength(0);
  });

  test.each([
    [{ scorer: 'nope' }, 'score/unknown-scorer', /There is no scorer "nope"; there are: detection, fuzzing, simulation/],
    [{ settings: { examplesShown: 0 } }, 'score/bad-settings', /examples per prompt/],
    [{ settings: { maxTokens: 8 } }, 'score/bad-settings', /max tokens/],
    [{ settings: { topLogprobs: 25 } }, 'score/bad-settings', /top logprobs/],
    [{ scorer: 'simulation', settings: { logprobs: true, topLogprobs: 5 } }, 'score/bad-settings', /at least 11 alternatives/],
  ])('%j is refused (%s)', async (options, code, message) => {
    const error = await failure(() => scoreFeature(record, EXPLANATION, { client: scriptedClient(() => '[]'), model: 'm', tokenizer, ...options }));
    expect(error).toBeInstanceOf(AppError);
    expect(errorCode(error)).toBe(code);
    expect(error.message).toMatch(message);
  });

  test('the same seed asks the same things; examples shown per call and the seed are kept in the result', async () => {
    const run = async (seed: number) => {
      const client = scriptedClient((request) => list(excerpts(request).map(() => 0)));
      const result = await scoreFeature(record, EXPLANATION, { client, model: 'm', tokenizer, scorer: 'fuzzing', seed, settings: { examplesShown: 4 } });
      return { prompts: client.requests.map(lastUser), result };
    };
    const [a, b, c] = [await run(7), await run(7), await run(8)];
    expect(b.prompts).toEqual(a.prompts);
    expect(c.prompts).not.toEqual(a.prompts);
    expect(a.prompts).toHaveLength(5);
    expect(a.result).toMatchObject({ seed: 7, settings: { examplesShown: 4, threshold: 0.3, logprobs: false } });
  });
});
