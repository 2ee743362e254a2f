/**
 * Activations on delphi's 0..10 scale, the integers the explainer's prompt shows:
 * ceil(10 * a / max), clamped to [0, 10], with `max` the feature's largest activation over all its
 * windows. Rounding up makes every positive activation at least 1, so no active token reads as 0.
 */
export function normalizeActivation(value: number, max: number): number {
  if (!(max > 0) || !(value > 0)) return 0;
  return Math.min(10, Math.ceil((10 * value) / max));
}

export function normalizeActivations(values: ArrayLike<number>, max: number): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = normalizeActivation(values[i]!, max);
  return out;
}
