/**
 * The scorers' prompts: system prompt, one worked example, then the feature; excerpts one per line,
 * numbered, after the explanation; tokens one per line; and the stand-in LLM's recognisers take each
 * for what it is (a classifier or a simulation prompt, never an explanation prompt).
 */
import { describe, expect, test } from 'vitest';
import { RESPONDERS } from '../../../scripts/servers/llm-server.ts';
import type { ChatMessage } from '../../../src/lib/clients/index.ts';
import {
  classifierUser,
  DETECTION_SHOT,
  FUZZING_SHOT,
  prepareScore,
  SCORERS,
  scorerById,
  scorerSettings,
  showToken,
  SIMULATION_SHOT,
  simulationAnswer,
  simulationUser,
  verdictList,
} from '../../../src/lib/scorers/index.ts';
import { scoreRecord, wordTokenizer } from './fixtures.ts';

const tokenizer = wordTokenizer();
const record = scoreRecord(tokenizer, 1, { word: 'river', tests: 6, negatives: 6 });

function calls(scorer: string, settings = {}) {
  const definition = scorerById(scorer);
  const prepared = prepareScore(record, 'the word "river"\nand rivers', definition, tokenizer, scorerSettings(definition, settings), 22);
  if (!('task' in prepared)) throw new Error('no task');
  return prepared.task.calls;
}

const responderFor = (messages: readonly ChatMessage[], json = false) =>
  RESPONDERS.find((r) => r.matches({ system: messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n'), user: [...messages].reverse().find((m) => m.role === 'user')!.content, json }))!.name;

describe('messages', () => {
  test('classifier: system, the worked example and its answer, then the feature', () => {
    const [call] = calls('detection');
    expect(call!.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(call!.messages[2]!.content).toBe(verdictList(DETECTION_SHOT.examples.map((e) => e.verdict)));
    expect(call!.messages[2]!.content).toBe('[1, 0, 1, 0, 1]');
    const user = call!.messages[3]!.content.split('\n');
    // The explanation on one line, a blank line, then one numbered line per excerpt.
    expect(user[0]).toBe('Explanation: the word "river" and rivers');
    expect(user[1]).toBe('');
    expect(user.slice(2).map((line) => /^Example (\d+): /.exec(line)?.[1])).toEqual(['1', '2', '3', '4', '5']);
  });

  test('line breaks inside an excerpt are written as \\n', () => {
    expect(classifierUser('x', ['one\ntwo', 'three'])).toBe('Explanation: x\n\nExample 1: one\\ntwo\nExample 2: three');
  });

  test('fuzzing uses its own worked example, with marks', () => {
    const [call] = calls('fuzzing');
    expect(call!.messages[1]!.content).toContain('<<red>>');
    expect(call!.messages[2]!.content).toBe(verdictList(FUZZING_SHOT.examples.map((e) => e.verdict)));
    expect(call!.messages[3]!.content).toMatch(/<<river>>/);
  });

  test('simulation: one sequence a call, each token on its own line with "unknown"', () => {
    const all = calls('simulation');
    expect(all).toHaveLength(12);
    const [call] = all;
    const tokens = record.test[0]!.tokens.map((id) => showToken(tokenizer.decode([id])));
    expect(call!.messages[3]!.content).toBe(simulationUser('the word "river" and rivers', tokens));
    expect(call!.messages[3]!.content.split('\n').slice(3)).toEqual(tokens.map((t) => `${t}\tunknown`));
    expect(call!.messages[2]!.content).toBe(simulationAnswer(SIMULATION_SHOT.tokens, SIMULATION_SHOT.values, false));
    expect(call!.messages[2]!.content.split('\n')[1]).toBe(' rain\t10');
    expect(JSON.parse(calls('simulation', { simulationFormat: 'json' })[0]!.messages[2]!.content).activations[1]).toEqual({ token: ' rain', activation: 10 });
  });

  test('showToken keeps every token on one line', () => {
    expect(showToken('\n\n')).toBe('\\n\\n');
    expect(showToken('\ta\r')).toBe('\\ta\\r');
    expect(showToken(' plain')).toBe(' plain');
  });

  test('max tokens and answer sizes grow with the call', () => {
    const [detection] = calls('detection');
    const [lines] = calls('simulation');
    const [json] = calls('simulation', { simulationFormat: 'json' });
    expect(detection!.maxTokens).toBeGreaterThanOrEqual(32);
    expect(json!.maxTokens).toBeGreaterThan(lines!.maxTokens);
    expect(json!.answerTokens).toBeGreaterThan(lines!.answerTokens);
  });
});

describe('the stand-in LLM takes each prompt for what it is', () => {
  test.each([
    ['detection', {}, false, 'classifier'],
    ['fuzzing', {}, false, 'classifier'],
    ['simulation', {}, false, 'simulation'],
    ['simulation', { simulationFormat: 'json' }, true, 'simulation'],
  ])('%s %j', (scorer, settings, json, responder) => {
    for (const call of calls(scorer, settings)) expect(responderFor(call.messages, json)).toBe(responder);
  });
});

test('the registry: one line per scorer', () => {
  expect(Object.keys(SCORERS)).toEqual(['detection', 'fuzzing', 'simulation']);
  expect(Object.values(SCORERS).map((s) => s.kind)).toEqual(['classifier', 'classifier', 'simulation']);
  expect(scorerById('simulation').defaults.topLogprobs).toBe(11);
  expect(scorerById('detection').defaults.examplesShown).toBe(5);
});
