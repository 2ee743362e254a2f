/** Predictions from log-probabilities: expected values over "0".."10" renormalised, and p1 / (p0 + p1). */
import { describe, expect, test } from 'vitest';
import { expectedValue, probabilityOfOne, readActivationToken, readVerdictToken } from '../../../src/lib/metrics/index.ts';

const alt = (token: string, p: number) => ({ token, logprob: Math.log(p) });

describe('expected value', () => {
  test('renormalised over the value tokens present: 0 (0.5), 10 (0.25), " 5" (0.125), "x" (0.125) give 3.125 / 0.875', () => {
    expect(expectedValue([alt('0', 0.5), alt('10', 0.25), alt(' 5', 0.125), alt('x', 0.125)])).toBeCloseTo(3.125 / 0.875, 12);
  });

  test('tokens spelling the same value are summed; a token listed twice counts once', () => {
    expect(expectedValue([alt('4', 0.3), alt(' 4', 0.1), alt('8', 0.4), alt('8', 0.4)])).toBeCloseTo((4 * 0.4 + 8 * 0.4) / 0.8, 12);
  });

  test('all eleven values, as the stand-in lists them (0.8 on the written one, 0.02 on each other)', () => {
    const top = (written: number) => Array.from({ length: 11 }, (_, v) => alt(String(v), v === written ? 0.8 : 0.02));
    expect(expectedValue(top(10))).toBeCloseTo(8 + 0.02 * 45, 12);
    expect(expectedValue(top(0))).toBeCloseTo(0.02 * 55, 12);
  });

  test('no value token: null', () => {
    expect(expectedValue([alt('cat', 0.9), alt('11', 0.1)])).toBeNull();
    expect(expectedValue([])).toBeNull();
  });

  test.each([
    ['7', 7],
    [' 7', 7],
    ['\t10', 10],
    ['10', 10],
    ['11', undefined],
    ['1.', undefined],
    ['-1', undefined],
    ['seven', undefined],
  ])('reads %j as %s', (token, value) => {
    expect(readActivationToken(token)).toBe(value);
  });
});

describe('probability of "1"', () => {
  test('p1 / (p0 + p1), other tokens ignored', () => {
    expect(probabilityOfOne([alt('1', 0.6), alt('0', 0.2), alt('yes', 0.2)])).toBeCloseTo(0.75, 12);
    expect(probabilityOfOne([alt('0', 0.8), alt('1', 0.2)])).toBeCloseTo(0.2, 12);
  });

  test('one side missing: 0 or 1; both missing: null', () => {
    expect(probabilityOfOne([alt('1', 0.9), alt('yes', 0.1)])).toBe(1);
    expect(probabilityOfOne([alt('0', 0.9)])).toBe(0);
    expect(probabilityOfOne([alt('yes', 0.9)])).toBeNull();
  });

  test.each([
    ['1', 1],
    [' 0', 0],
    ['[1', 1],
    ['0,', 0],
    [' 1]', 1],
    ['10', undefined],
    ['2', undefined],
  ])('reads %j as %s', (token, value) => {
    expect(readVerdictToken(token)).toBe(value);
  });
});
