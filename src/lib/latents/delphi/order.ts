/**
 * The (row, position, feature) order delphi stores non-zeros in, shared by encode and decode: both
 * must sort input that comes in any other order and find duplicates on the way.
 */

/** Below, at or above zero as non-zero `a` sorts before, together with or after non-zero `b`. */
export function compareAt(rows: Uint32Array, positions: Uint32Array, features: Uint32Array, a: number, b: number): number {
  return rows[a]! - rows[b]! || positions[a]! - positions[b]! || features[a]! - features[b]!;
}

/**
 * The permutation that sorts non-zeros by (row, position, feature): two stable counting sorts, by
 * feature then by token index, O(N + tokens + split width). Falls back to a comparison sort when
 * the count arrays would be unreasonably large.
 */
export function sortOrder(rows: Uint32Array, positions: Uint32Array, features: Uint32Array, start: number, end: number, nRows: number, ctx: number): Uint32Array {
  const n = rows.length;
  const span = end - start + 1;
  const nTokens = nRows * ctx;
  if (nTokens > 2 ** 28 || span > 2 ** 28) {
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => compareAt(rows, positions, features, a, b));
  }
  const byFeature = new Uint32Array(n);
  const featureCounts = new Uint32Array(span + 1);
  for (let i = 0; i < n; i++) featureCounts[features[i]! - start + 1]!++;
  for (let f = 1; f <= span; f++) featureCounts[f]! += featureCounts[f - 1]!;
  for (let i = 0; i < n; i++) byFeature[featureCounts[features[i]! - start]!++] = i;
  const tokenCounts = new Uint32Array(nTokens + 1);
  for (let i = 0; i < n; i++) tokenCounts[rows[i]! * ctx + positions[i]! + 1]!++;
  for (let t = 1; t <= nTokens; t++) tokenCounts[t]! += tokenCounts[t - 1]!;
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) {
    const i = byFeature[j]!;
    order[tokenCounts[rows[i]! * ctx + positions[i]!]!++] = i;
  }
  return order;
}
