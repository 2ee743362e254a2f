/** How a token is shaded by a value: the feature's activation in orange, a simulated prediction in blue. */

/** The background of a token with activation `value` where the strongest is `max`; undefined when it is not active. */
export function activationShade(value: number, max: number): string | undefined {
  return value > 0 && max > 0 ? `rgba(234, 112, 13, ${Math.min(1, value / max).toFixed(3)})` : undefined;
}

/** The background of a predicted activation on the simulation's 0..10 scale (lighter than orange at its darkest, so text stays readable). */
export function predictionShade(value: number): string | undefined {
  return value > 0 ? `rgba(51, 88, 212, ${(0.6 * Math.min(1, value / 10)).toFixed(3)})` : undefined;
}
