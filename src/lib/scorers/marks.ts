/**
 * Marking tokens for fuzzing. Activating examples are marked where the feature is active: at or above
 * `threshold` times the example's max (delphi's fuzzing rule). Non-activating examples get as many
 * false marks as an activating example has marked tokens on average (rounded up), at positions drawn
 * for each example on its own, so two examples do not share their marks (delphi resets its generator
 * per example, which marks every negative at the same positions).
 *
 * The text is written as the explainers write it (`highlight` of latents/records/highlight.ts).
 */
import { drawDistinct } from '../latents/index.ts';
import type { Prng } from '../util/index.ts';

/** Tokens at or above `threshold` x the example's max activation (none when the max is not positive). */
export function activeMarks(activations: readonly number[], threshold: number): boolean[] {
  let max = 0;
  for (const value of activations) if (value > max) max = value;
  return activations.map((value) => max > 0 && value >= threshold * max);
}

/** How many false marks a non-activating example gets: the activating examples' mean count of marks, rounded up (0 without any). */
export function falseMarkCount(activatingMarks: readonly (readonly boolean[])[]): number {
  if (activatingMarks.length === 0) return 0;
  const total = activatingMarks.reduce((sum, marks) => sum + marks.filter(Boolean).length, 0);
  return Math.ceil(total / activatingMarks.length);
}

/** `count` distinct positions of `length` (all of them if fewer), drawn from `prng`, as marks. */
export function randomMarks(length: number, count: number, prng: Prng): boolean[] {
  const marks = new Array<boolean>(length).fill(false);
  const positions = drawDistinct(Array.from({ length }, (_, i) => i), Math.min(count, length), prng);
  for (const position of positions) marks[position] = true;
  return marks;
}
