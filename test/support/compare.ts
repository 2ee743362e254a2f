/** Comparing float results that should agree up to rounding (float16 against float32, a runtime against the reference). */

/** Largest |actual - expected| over the largest |expected| (0 / 0 is NaN, which fails any bound). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  }
  return worst / scale;
}
