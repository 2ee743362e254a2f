/**
 * Answer parsing, table-driven: classifier lists (valid, wrong length, garbage), simulation lines and
 * JSON (valid, wrong count, token mismatch, bad values), and the log-probabilities at answer positions.
 */
import { describe, expect, test } from 'vitest';
import type { TokenLogprob } from '../../../src/lib/clients/index.ts';
import { expectedValues, parseSimulationJson, parseSimulationLines, parseVerdicts, tokenAtOffset, verdictProbabilities } from '../../../src/lib/scorers/index.ts';

describe('parseVerdicts', () => {
  test.each([
    ['[1, 0, 1, 0, 0]', 5, [1, 0, 1, 0, 0]],
    ['[1,0,1,0,0]', 5, [1, 0, 1, 0, 0]],
    ['  [ 0 , 0 , 1 ]\n', 3, [0, 0, 1]],
    ['Here is my answer: [0, 1, 1]', 3, [0, 1, 1]],
    ['```\n[1, 1]\n```', 2, [1, 1]],
    ['Example [3] looked odd, so: [1, 0, 0]', 3, [1, 0, 0]],
    ['First [1, 0], then on reflection [0, 0, 1]', 3, [0, 0, 1]],
    ['[1, 0, 1] is my answer, not [1, 1]', 3, [1, 0, 1]],
    ['1, 0, 1', 3, [1, 0, 1]],
    ['1', 1, [1]],
  ])('%j (%i examples) reads as %j', (text, n, verdicts) => {
    const parsed = parseVerdicts(text, n);
    expect(parsed).toMatchObject({ ok: true, verdicts });
    if (parsed.ok) for (const [i, offset] of parsed.offsets.entries()) expect(text[offset]).toBe(String(verdicts[i]));
  });

  test.each([
    ['[1, 0, 1, 0]', 5, 'score/wrong-length'],
    ['[1, 0, 1, 0, 0, 1]', 5, 'score/wrong-length'],
    ['[]', 2, 'score/bad-value'],
    ['[1, 0, yes]', 3, 'score/bad-value'],
    ['[1, 0, 2]', 3, 'score/bad-value'],
    ['[0.9, 0.1]', 2, 'score/bad-value'],
    ['The first and third examples fit.', 3, 'score/unparseable'],
    ['', 3, 'score/unparseable'],
    ['1 0 1', 3, 'score/unparseable'],
  ])('%j (%i examples) is a failure: %s', (text, n, code) => {
    const parsed = parseVerdicts(text, n);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.failure).toMatchObject({ kind: 'parse', code });
  });
});

describe('parseSimulationLines', () => {
  const shown = ['The', ' violin', ' played', '\\n', ' '];
  test.each([
    ['exact', 'The\t0\n violin\t10\n played\t2\n\\n\t0\n \t0', [0, 10, 2, 0, 0]],
    ['with a preface, a fence and CRLF', 'Sure:\r\n```\r\nThe\t0\r\n violin\t9\r\n played\t0\r\n\\n\t0\r\n \t1\r\n```', [0, 9, 0, 0, 1]],
    ['leading spaces dropped, spaces around values', 'The\t 0\nviolin\t10 \nplayed\t0\n\\n\t0\n\t0', [0, 10, 0, 0, 0]],
    ['decimals', 'The\t0.5\n violin\t9.5\n played\t0\n\\n\t0\n \t0', [0.5, 9.5, 0, 0, 0]],
  ])('%s', (_, text, values) => {
    const parsed = parseSimulationLines(text, shown);
    expect(parsed).toMatchObject({ ok: true, values });
    if (parsed.ok) for (const [i, offset] of parsed.offsets!.entries()) expect(Number(/^[\d.]+/.exec(text.slice(offset))![0])).toBe(values[i]);
  });

  test.each([
    ['one line missing', 'The\t0\n violin\t10\n played\t2\n\\n\t0', 'score/wrong-length'],
    ['one line too many', 'The\t0\n violin\t10\n played\t2\n\\n\t0\n \t0\n.\t0', 'score/wrong-length'],
    ['a token changed', 'The\t0\n viola\t10\n played\t2\n\\n\t0\n \t0', 'score/token-mismatch'],
    ['tokens in another order', ' violin\t10\nThe\t0\n played\t2\n\\n\t0\n \t0', 'score/token-mismatch'],
    ['a value above 10', 'The\t0\n violin\t11\n played\t2\n\\n\t0\n \t0', 'score/bad-value'],
    ['unknown left in', 'The\t0\n violin\tunknown\n played\t2\n\\n\t0\n \t0', 'score/bad-value'],
    ['no lines at all', 'The violin is active on violin.', 'score/unparseable'],
  ])('%s: %s', (_, text, code) => {
    const parsed = parseSimulationLines(text, shown);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.failure.code).toBe(code);
  });
});

describe('parseSimulationJson', () => {
  const shown = ['The', ' violin'];
  const json = (activations: unknown) => JSON.stringify({ activations });
  test.each([
    ['an object', json([{ token: 'The', activation: 0 }, { token: ' violin', activation: 10 }]), [0, 10]],
    ['a bare list, trimmed tokens, a numeric string', JSON.stringify([{ token: 'The', activation: '1' }, { token: 'violin', activation: 8 }]), [1, 8]],
    ['in a code fence', '```json\n' + json([{ token: 'The', activation: 0 }, { token: ' violin', activation: 7 }]) + '\n```', [0, 7]],
  ])('%s', (_, text, values) => {
    expect(parseSimulationJson(text, shown)).toEqual({ ok: true, values });
  });

  test('the client\'s parsed JSON is used when given', () => {
    expect(parseSimulationJson('ignored', shown, { activations: [{ token: 'The', activation: 2 }, { token: ' violin', activation: 3 }] })).toEqual({ ok: true, values: [2, 3] });
  });

  test.each([
    ['not JSON', '{"activations": [', 'score/bad-json'],
    ['no list', '{"values": []}', 'score/bad-json'],
    ['an entry without a token', json([{ activation: 0 }, { token: ' violin', activation: 1 }]), 'score/bad-json'],
    ['too few', json([{ token: 'The', activation: 0 }]), 'score/wrong-length'],
    ['another token', json([{ token: 'The', activation: 0 }, { token: ' cello', activation: 10 }]), 'score/token-mismatch'],
    ['a negative value', json([{ token: 'The', activation: -1 }, { token: ' violin', activation: 10 }]), 'score/bad-value'],
    ['a missing value', json([{ token: 'The' }, { token: ' violin', activation: 10 }]), 'score/bad-value'],
  ])('%s: %s', (_, text, code) => {
    const parsed = parseSimulationJson(text, shown);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.failure.code).toBe(code);
  });
});

describe('log-probabilities at answer positions', () => {
  const lp = (token: string, alternatives: [string, number][]): TokenLogprob => ({ token, logprob: Math.log(alternatives.find(([t]) => t === token)?.[1] ?? 0.5), top: alternatives.map(([t, p]) => ({ token: t, logprob: Math.log(p) })) });

  test('tokenAtOffset finds the covering token, or nothing when the tokens do not spell the text', () => {
    const tokens = [lp('[', []), lp('1', []), lp(', ', []), lp('0', []), lp(']', [])];
    const at = tokenAtOffset(tokens, '[1, 0]')!;
    expect([0, 1, 2, 3, 4, 5].map((o) => at(o)?.token)).toEqual(['[', '1', ', ', ', ', '0', ']']);
    expect(at(6)).toBeUndefined();
    expect(tokenAtOffset(tokens, '[1, 0] ')).toBeUndefined();
  });

  test('verdicts: p1 / (p0 + p1) at each verdict token', () => {
    const tokens = [lp('[', [['[', 1]]), lp('1', [['1', 0.6], ['0', 0.2]]), lp(', ', [[', ', 1]]), lp('0', [['0', 0.7], ['1', 0.1]]), lp(']', [[']', 1]])];
    const text = '[1, 0]';
    const parsed = parseVerdicts(text, 2);
    if (!parsed.ok) throw new Error('parse');
    const p = verdictProbabilities(tokens, text, parsed.verdicts, parsed.offsets);
    expect(p[0]).toBeCloseTo(0.75, 12);
    expect(p[1]).toBeCloseTo(0.125, 12);
  });

  test('verdicts in tokens that carry punctuation ("[1", "0]") are read too', () => {
    const tokens = [lp('[1', [['[1', 0.9], ['[0', 0.1]]), lp(',', [[',', 1]]), lp(' 0]', [[' 0]', 0.8], [' 1]', 0.2]])];
    const text = '[1, 0]';
    const parsed = parseVerdicts(text, 2);
    if (!parsed.ok) throw new Error('parse');
    const p = verdictProbabilities(tokens, text, parsed.verdicts, parsed.offsets);
    expect(p[0]).toBeCloseTo(0.9, 12);
    expect(p[1]).toBeCloseTo(0.2, 12);
  });

  test('when the tokens do not spell the text, the verdict tokens in order (if exactly as many); else null', () => {
    const tokens = [lp('1', [['1', 0.6], ['0', 0.4]]), lp('0', [['0', 0.5], ['1', 0.5]])];
    expect(verdictProbabilities(tokens, '[1, 0]', [1, 0], [1, 4]).map((p) => p!.toFixed(2))).toEqual(['0.60', '0.50']);
    expect(verdictProbabilities(tokens.slice(0, 1), '[1, 0]', [1, 0], [1, 4])).toEqual([null, null]);
  });

  test('a token that is not the verdict written gives null there', () => {
    const tokens = [lp('[', []), lp('yes', [['yes', 1]]), lp(']', [])];
    expect(verdictProbabilities(tokens, '[yes]', [1], [1])).toEqual([null]);
  });

  test('simulation: the expected value where the token spells the whole value; null where "10" is cut into "1" and "0"', () => {
    const values = (written: string) => Array.from({ length: 11 }, (_, v): [string, number] => [String(v), String(v) === written ? 0.8 : 0.02]);
    const text = 'a\t10\nb\t10';
    const tokens = [lp('a', [['a', 1]]), lp('\t', [['\t', 1]]), lp('10', values('10')), lp('\n', [['\n', 1]]), lp('b', [['b', 1]]), lp('\t', [['\t', 1]]), lp('1', values('1')), lp('0', values('0'))];
    const parsed = parseSimulationLines(text, ['a', 'b']);
    if (!parsed.ok) throw new Error('parse');
    const expected = expectedValues(tokens, text, parsed.values, parsed.offsets!);
    expect(expected[0]).toBeCloseTo(8.9, 12);
    expect(expected[1]).toBeNull();
  });
});
