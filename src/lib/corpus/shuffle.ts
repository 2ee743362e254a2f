/**
 * The seeded row shuffle. Generator: splitmix32 (util/random.ts), seeded with `seed >>> 0`. Shuffle: Fisher-Yates from the last
 * row down, swapping row i with row j, j uniform in [0, i] drawn by rejection (no modulo bias).
 * Same seed and row count, same order, on every platform: integer arithmetic only.
 *
 * delphi shuffles the dataset's documents (seed 22) before tokenizing and takes the first rows. A
 * stream cannot shuffle what it has not read, so we pack the first documents up to the budget and
 * shuffle those rows (see pack.ts).
 */
import { below, splitmix32 } from '../util/index.ts';

export const DEFAULT_SHUFFLE_SEED = 22;

/** The shuffled order: position i of the shuffled matrix holds original row `order[i]`. */
export function rowShuffleOrder(nRows: number, seed: number = DEFAULT_SHUFFLE_SEED): Uint32Array {
  const order = new Uint32Array(nRows);
  for (let i = 0; i < nRows; i++) order[i] = i;
  const next = splitmix32(seed);
  for (let i = nRows - 1; i > 0; i--) {
    const j = below(next, i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Shuffles the rows of a [nRows, ctx] matrix in place (the same swaps as rowShuffleOrder) and returns it. */
export function shuffleRows(tokens: Uint32Array, ctx: number, seed: number = DEFAULT_SHUFFLE_SEED): Uint32Array {
  const nRows = tokens.length / ctx;
  const temp = new Uint32Array(ctx);
  const next = splitmix32(seed);
  for (let i = nRows - 1; i > 0; i--) {
    const j = below(next, i + 1);
    if (j === i) continue;
    temp.set(tokens.subarray(i * ctx, (i + 1) * ctx));
    tokens.copyWithin(i * ctx, j * ctx, (j + 1) * ctx);
    tokens.set(temp, j * ctx);
  }
  return tokens;
}
