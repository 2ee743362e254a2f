/**
 * The features table's order and filters over typed-array columns: an index array sorted by a column
 * (no object per feature, so 131072 features sort in tens of milliseconds), the count of features
 * that would be explained, and the numbers as the table writes them. Pure functions, tested in Node.
 */

export type SortKey = 'index' | 'density' | 'windows' | 'max' | 'mean';
export type SortDirection = 'asc' | 'desc';

/** The columns these functions read (a FeatureTable has them). */
export interface FeatureColumns {
  width: number;
  nnz: Uint32Array;
  windows: Uint32Array;
  max: Float32Array;
  mean: Float32Array;
}

export interface FeatureFilter {
  /** Leave out features that never fire. */
  hideDead?: boolean;
  /** Keep only features with at least this many activating windows (those that would be explained). */
  minWindows?: number;
}

/** The column a key sorts by (density sorts as the non-zero count: the denominator is the same for all). */
function column(columns: FeatureColumns, key: Exclude<SortKey, 'index'>): ArrayLike<number> {
  return key === 'density' ? columns.nnz : columns[key];
}

/**
 * Feature indices passing `filter`, sorted by `key` (ties: lower index first, in both directions);
 * NaN (never expected) sorts last.
 */
export function featureOrder(columns: FeatureColumns, key: SortKey, direction: SortDirection, filter: FeatureFilter = {}): Uint32Array {
  const { width, nnz, windows } = columns;
  const minWindows = filter.minWindows ?? 0;
  let kept = new Uint32Array(width);
  let n = 0;
  for (let f = 0; f < width; f++) {
    if (filter.hideDead && nnz[f] === 0) continue;
    if (minWindows > 0 && (windows[f]! < minWindows || nnz[f] === 0)) continue;
    kept[n++] = f;
  }
  kept = kept.subarray(0, n);
  if (key === 'index') return direction === 'asc' ? kept : kept.reverse();
  const values = column(columns, key);
  const sign = direction === 'asc' ? 1 : -1;
  return kept.sort((a, b) => {
    const x = values[a]!;
    const y = values[b]!;
    if (x !== y) {
      if (Number.isNaN(x)) return 1;
      if (Number.isNaN(y)) return -1;
      return sign * (x - y);
    }
    return a - b;
  });
}

/** Features with at least `minExamples` activating windows (and any activation): those that would be explained. */
export function countQualifying(columns: Pick<FeatureColumns, 'width' | 'nnz' | 'windows'>, minExamples: number): number {
  let count = 0;
  for (let f = 0; f < columns.width; f++) if (columns.windows[f]! >= minExamples && columns.nnz[f]! > 0) count++;
  return count;
}

/** A share (0..1) as the table shows it: a percentage down to 0.01 %, below that in scientific notation. */
export function formatDensity(density: number): string {
  if (density === 0) return '0';
  if (density >= 1e-4) return `${(density * 100).toFixed(density >= 0.1 ? 1 : 2)} %`;
  return density.toExponential(1);
}

/** An activation with three significant digits, without exponent for ordinary sizes. */
export function formatActivation(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 999.5) return value.toPrecision(3).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  if (magnitude >= 999.5 && magnitude < 1e9) return Math.round(value).toLocaleString('en-US');
  return value.toExponential(2);
}
