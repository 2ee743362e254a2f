/**
 * Fuzzing marks: activating examples marked at or above 0.3 x their max; non-activating ones get
 * ceil(mean marked count) false marks at positions drawn per example (they differ between examples,
 * unlike delphi's); the marked text is written as the explainers write it.
 */
import { describe, expect, test } from 'vitest';
import { highlight } from '../../../src/lib/latents/index.ts';
import { activeMarks, classifierSamples, DEFAULT_SCORE_SETTINGS, falseMarkCount, randomMarks, scorerSettings, fuzzingScorer } from '../../../src/lib/scorers/index.ts';
import { Prng } from '../../../src/lib/util/index.ts';
import { scoreRecord, wordTokenizer } from './fixtures.ts';

const tokenizer = wordTokenizer();

describe('marks', () => {
  test('activating examples: at or above 0.3 x the example max (3 of 10 is marked, 2.9 is not); none without a positive max', () => {
    expect(activeMarks([0, 2.9, 3, 10, 5], 0.3)).toEqual([false, false, true, true, true]);
    expect(activeMarks([0, 0, 0], 0.3)).toEqual([false, false, false]);
    expect(activeMarks([-1, -2], 0.3)).toEqual([false, false]);
  });

  test('false marks: the mean count of marks in activating examples, rounded up', () => {
    expect(falseMarkCount([[true, false], [true, true], [true, true], [false, true]])).toBe(2); // 7/4 -> 2
    expect(falseMarkCount([[true], [true], [true, true, true, true]])).toBe(2); // 6/3
    expect(falseMarkCount([[true], [false, false], [false]])).toBe(1); // 1/3 -> 1
    expect(falseMarkCount([])).toBe(0);
  });

  test('random marks: exactly the count, distinct positions, all positions when the count is larger', () => {
    const prng = new Prng(5);
    for (let i = 0; i < 20; i++) expect(randomMarks(12, 3, prng).filter(Boolean)).toHaveLength(3);
    expect(randomMarks(4, 9, prng)).toEqual([true, true, true, true]);
    expect(randomMarks(4, 0, prng)).toEqual([false, false, false, false]);
  });

  test('fuzzing marks are written with the explainers\' highlighting', () => {
    const texts = ['The', ' hole', ' was', ' small', 'er', ' but', ' deep', 'er', '\n', ' '];
    const marked = [false, false, false, false, true, false, false, true, false, false];
    expect(highlight(texts, marked)).toBe('The hole was small<<er>> but deep<<er>>\n ');
  });
});

describe('fuzzing samples of a record', () => {
  const record = scoreRecord(tokenizer, 2, { tests: 10, negatives: 10 });
  const settings = scorerSettings(fuzzingScorer);

  test('activating samples are marked where the feature is (the topic word, not "the" at 1 of 10)', () => {
    const samples = classifierSamples({ record, tokenizer, settings, seed: 22 }, true);
    for (const sample of samples.filter((s) => s.activating)) {
      const marked = sample.texts.filter((_, i) => sample.marked![i]).map((t) => t.trim());
      expect(marked).toEqual(['engine']);
    }
  });

  test('non-activating samples: as many marks as the mean, at positions that differ between examples', () => {
    const twoWords = { ...record, test: record.test.map((e, i) => (i % 2 ? { ...e, activations: e.activations.map((a, j) => (j === 0 ? 10 : a)) } : e)) };
    const samples = classifierSamples({ record: twoWords, tokenizer, settings, seed: 22 }, true);
    const negatives = samples.filter((s) => !s.activating);
    expect(negatives).toHaveLength(10);
    // Half the activating examples have 1 mark, half 2: mean 1.5, rounded up to 2.
    for (const sample of negatives) expect(sample.marked!.filter(Boolean)).toHaveLength(2);
    const positions = negatives.map((s) => s.marked!.flatMap((m, i) => (m ? [i] : [])).join(','));
    expect(new Set(positions).size).toBeGreaterThan(5);
  });

  test('seeded by (seed, feature): the same seed gives the same samples, another seed others', () => {
    const a = classifierSamples({ record, tokenizer, settings, seed: 22 }, true);
    const b = classifierSamples({ record, tokenizer, settings, seed: 22 }, true);
    const c = classifierSamples({ record, tokenizer, settings, seed: 23 }, true);
    expect(b).toEqual(a);
    expect(c.map((s) => s.example.row)).not.toEqual(a.map((s) => s.example.row));
    expect(new Set(a.map((s) => s.example.row)).size).toBe(20);
  });

  test('every test example and as many non-activating ones, shuffled; fewer when asked', () => {
    const samples = classifierSamples({ record: { ...record, non_activating: [...record.non_activating, ...record.non_activating] }, tokenizer, settings: DEFAULT_SCORE_SETTINGS, seed: 1 }, false);
    expect(samples.filter((s) => s.activating)).toHaveLength(10);
    expect(samples.filter((s) => !s.activating)).toHaveLength(10);
    expect(samples.map((s) => s.activating)).not.toEqual([...Array(10).fill(true), ...Array(10).fill(false)]);
    expect(classifierSamples({ record, tokenizer, settings: { ...DEFAULT_SCORE_SETTINGS, maxNonActivating: 3 }, seed: 1 }, false).filter((s) => !s.activating)).toHaveLength(3);
    expect(samples.every((s) => s.marked === undefined)).toBe(true);
  });
});
