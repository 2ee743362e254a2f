/**
 * Highlighting and prompt building: which tokens are marked and how runs share one pair of markers,
 * the values line, train examples strongest quantile first, counterexamples only in the contrastive
 * prompt, the chain-of-thought steps, and the few-shot pairs.
 */
import { describe, expect, test } from 'vitest';
import {
  chainOfThoughtExplainer,
  contrastiveExplainer,
  DEFAULT_EXPLAIN_SETTINGS,
  defaultExplainer,
  EXPLAINERS,
  explainerById,
  explainSettings,
  FEW_SHOTS,
  valuesLine,
} from '../../../src/lib/explainers/index.ts';
import { highlight, markedRuns, markedTokens, tokenTexts } from '../../../src/lib/latents/index.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { exampleOf, topicRecord, wordTokenizer } from './fixtures.ts';

describe('highlighting', () => {
  test.each([
    ['nothing active', [0, 0, 0], [false, false, false]],
    ['above 0.3 x max only', [10, 3, 3.0001, 0], [true, false, true, false]],
    ['negative values never', [-5, 1, 0], [false, true, false]],
    ['all equal', [2, 2], [true, true]],
  ])('marked: %s', (_, activations, marked) => {
    expect(markedTokens(activations)).toEqual(marked);
  });

  test('the threshold is a setting', () => {
    expect(markedTokens([10, 6, 4], 0.5)).toEqual([true, true, false]);
  });

  test.each([
    ['one token', ['the', ' hole', ' was', ' small', 'er'], [0, 0, 0, 0, 5], 'the hole was small<<er>>'],
    ['two runs', ['the', ' hole', ' was', ' small', 'er', ' but', ' deep', 'er'], [0, 0, 0, 0, 5, 0, 0, 4], 'the hole was small<<er>> but deep<<er>>'],
    ['a run of consecutive tokens shares one pair', [' moved', ' to', ' New', ' York', ' last'], [0, 0, 7, 10, 0], ' moved to <<New York>> last'],
    ['leading space stays outside the marker', [' three', ' hours', ' later'], [0, 9, 0], ' three <<hours>> later'],
    ['the first token', ['Hello', ' world'], [9, 0], '<<Hello>> world'],
    ['the last token', ['Hello', ' world'], [0, 9], 'Hello <<world>>'],
    ['everything', ['a', 'b'], [9, 9], '<<ab>>'],
    ['a marked newline keeps its mark', ['end', '\n', 'next'], [0, 9, 0], 'end<<\n>>next'],
    ['trailing whitespace of a run stays outside', ['x', ' y ', 'z'], [0, 9, 0], 'x <<y>> z'],
  ])('%s', (_, texts, activations, text) => {
    expect(highlight(texts, markedTokens(activations))).toBe(text);
  });

  test('runs are [start, end) pairs; unmarked text joins as decoded', () => {
    expect(markedRuns([true, true, false, true, false, true])).toEqual([[0, 2], [3, 4], [5, 6]]);
    expect(highlight([' a', ' b'], [false, false])).toBe(' a b');
  });

  test('tokens are decoded one by one', () => {
    const tokenizer = wordTokenizer();
    expect(tokenTexts(tokenizer.encode('The cat, sat.'), tokenizer)).toEqual(['The', ' cat', ',', ' sat', '.']);
  });

  test('the values line lists marked tokens with their 0..10 values, in order', () => {
    expect(valuesLine([' New', ' York', ' is', ' big'], [true, true, false, true], [6.6, 10, 0, 3.2])).toBe('"New" 7, "York" 10, "big" 3');
    expect(valuesLine(['a', '\n'], [false, true], [0, 8])).toBe('"\\\\n" 8');
  });
});

describe('prompts', () => {
  const tokenizer = wordTokenizer();
  const record = topicRecord(tokenizer, 0, 'cat');
  // Shuffle the train examples: the prompt must still show the strongest quantile first.
  const shuffled = { ...record, train: [record.train[4]!, record.train[0]!, record.train[5]!, record.train[2]!, record.train[1]!, record.train[3]!] };
  const last = (messages: { content: string }[]) => messages.at(-1)!.content;

  test('system, three few-shot pairs, then the feature; strongest quantile first', () => {
    const messages = defaultExplainer.messages(shuffled, tokenizer, explainSettings());
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user']);
    const lines = last(messages).split('\n').filter((line) => line.startsWith('Example'));
    expect(lines).toEqual([
      'Example 1: The old <<cat>> sat quietly by the window all day.',
      'Example 2: Nobody expected the <<cat>> to come back so soon.',
      'Example 3: She pointed at the <<cat>> and laughed out loud.',
      'Example 4: In the morning the <<cat>> was gone again.',
      'Example 5: A small <<cat>> appeared near the garden gate.',
      'Example 6: He wrote a long letter about the <<cat>> last week.',
    ]);
    // Within a quantile the record's order is kept (examples 1 and 2 are both quantile 0).
    expect(shuffled.train.map((e) => e.quantile)).toEqual([2, 0, 2, 1, 0, 1]);
  });

  test('maxExamples keeps the strongest', () => {
    const content = last(defaultExplainer.messages(shuffled, tokenizer, explainSettings({ maxExamples: 2 })));
    expect(content.match(/^Example \d+:/gm)).toEqual(['Example 1:', 'Example 2:']);
    expect(content).toContain('Excerpts where the feature is active (2, strongest first)');
    expect(content).toContain('Nobody expected');
    expect(content).not.toContain('She pointed');
  });

  test('activation values: a line after each example, and the system prompt explains it', () => {
    const plain = defaultExplainer.messages(record, tokenizer, explainSettings());
    expect(last(plain)).not.toContain('Values:');
    expect(plain[0]!.content).not.toContain('Values:');
    const withValues = defaultExplainer.messages(record, tokenizer, explainSettings({ activationValues: true }));
    expect(last(withValues)).toContain('Example 1: The old <<cat>> sat quietly by the window all day.\nValues: "cat" 10');
    expect(withValues[0]!.content).toContain('Values:');
    // The few-shot examples show values too, so the model sees the format before the real examples.
    expect(withValues[1]!.content).toContain('Values: "hours" 10');
  });

  test('a token marked weakly shows its own value; unmarked tokens are not listed', () => {
    const example = exampleOf(tokenizer, 'big red dog', { big: 4, red: 10, dog: 2 }, 0);
    const content = last(defaultExplainer.messages({ ...record, train: [example] }, tokenizer, explainSettings({ activationValues: true })));
    expect(content).toContain('Example 1: <<big red>> dog\nValues: "big" 4, "red" 10');
  });

  test('contrastive: counterexamples after the examples, plain text; not in the other prompts', () => {
    const messages = contrastiveExplainer.messages(record, tokenizer, explainSettings());
    expect(last(messages)).toContain('Counterexamples, where the feature is silent (3):\n\nCounterexample 1: Prices rose sharply in the second quarter.\nCounterexample 2:');
    expect(messages[0]!.content).toMatch(/counterexamples/);
    expect(messages[1]!.content).toContain('Counterexample 1: The hour hand was missing from the clock.');
    expect(last(contrastiveExplainer.messages(record, tokenizer, explainSettings({ maxCounterexamples: 1 })))).not.toContain('Counterexample 2');
    for (const explainer of [defaultExplainer, chainOfThoughtExplainer]) {
      const other = explainer.messages(record, tokenizer, explainSettings());
      expect(other.map((m) => m.content).join()).not.toContain('Counterexample');
    }
  });

  test('chain of thought: the system prompt asks for the steps, the few-shot answers show them', () => {
    const messages = chainOfThoughtExplainer.messages(record, tokenizer, explainSettings());
    expect(messages[0]!.content).toMatch(/Step 1 \(tokens\)[\s\S]*Step 2 \(shared\)[\s\S]*Step 3 \(context\)/);
    expect(messages[2]!.content).toBe(`Step 1 (tokens): ${FEW_SHOTS[0]!.steps.tokens}\nStep 2 (shared): ${FEW_SHOTS[0]!.steps.shared}\nStep 3 (context): ${FEW_SHOTS[0]!.steps.context}\n[EXPLANATION]: ${FEW_SHOTS[0]!.explanation}`);
    expect(defaultExplainer.messages(record, tokenizer, explainSettings())[2]!.content).toBe(`[EXPLANATION]: ${FEW_SHOTS[0]!.explanation}`);
  });

  test('every prompt asks for the explanation line, and the few-shot answers parse with the shared parser', () => {
    for (const explainer of Object.values(EXPLAINERS)) {
      const messages = explainer.messages(record, tokenizer, explainSettings());
      expect(messages[0]!.content).toContain('[EXPLANATION]:');
      for (const answer of messages.filter((m) => m.role === 'assistant')) expect(explainer.parse(answer.content, record, tokenizer, explainSettings()).ok).toBe(true);
    }
  });

  test('few-shot examples mark what they say they mark', () => {
    const first = defaultExplainer.messages(record, tokenizer, explainSettings())[1]!.content;
    expect(first).toContain('Example 1: We waited for three <<hours>> before the doors opened.');
    const cities = defaultExplainer.messages(record, tokenizer, explainSettings())[5]!.content;
    expect(cities).toContain('Example 1: Last year she moved to <<New York>> for work.');
  });

  test('an echoed example is a parse failure for the explainer', () => {
    const parsed = defaultExplainer.parse('[EXPLANATION]: The old cat sat quietly by the window all day.', record, tokenizer, explainSettings());
    expect(parsed).toMatchObject({ ok: false, failure: { code: 'explanation/echo' } });
  });
});

describe('registry and settings', () => {
  test('three explainers by id; an unknown id names the known ones', () => {
    expect(Object.keys(EXPLAINERS)).toEqual(['default', 'chain-of-thought', 'contrastive']);
    expect(explainerById('contrastive')).toBe(contrastiveExplainer);
    let thrown: unknown;
    try {
      explainerById('nope');
    } catch (error) {
      thrown = error;
    }
    expect(errorCode(thrown)).toBe('explain/unknown-explainer');
    expect(String(thrown)).toMatch(/default, chain-of-thought, contrastive/);
  });

  test.each([[{ threshold: 1 }], [{ threshold: -0.1 }], [{ maxExamples: 0 }], [{ maxExamples: 1.5 }], [{ maxCounterexamples: -1 }], [{ temperature: 3 }], [{ maxTokens: 8 }]])('settings %o are refused', (partial) => {
    expect(() => explainSettings(partial)).toThrow(/Explainer settings/);
  });

  test('defaults: threshold 0.3, no values, temperature 0', () => {
    expect(explainSettings()).toEqual({ ...DEFAULT_EXPLAIN_SETTINGS });
    expect(DEFAULT_EXPLAIN_SETTINGS).toMatchObject({ threshold: 0.3, activationValues: false, temperature: 0 });
  });
});
