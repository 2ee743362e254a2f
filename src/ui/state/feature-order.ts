/**
 * The features table's order and filters over typed-array columns: an index array sorted by a column
 * (no object per feature; a radix sort, so 131072 features sort in a few milliseconds), the count of features
 * that would be explained, and the numbers as the table writes them. Pure functions, tested in Node.
 */

/** A score column sorts under `score:<scorer>` (e.g. `score:detection`). */
export type ScoreSortKey = `score:${string}`;
export type SortKey = 'index' | 'density' | 'windows' | 'max' | 'mean' | ScoreSortKey;
export type SortDirection = 'asc' | 'desc';

export const scoreSortKey = (scorer: string): ScoreSortKey => `score:${scorer}`;
/** The scorer a key sorts by, or undefined for the statistics' keys. */
export const scorerOfSortKey = (key: SortKey): string | undefined => (key.startsWith('score:') ? key.slice('score:'.length) : undefined);

/** One scorer's headline score per feature (FeatureScoreColumns has them): NaN where none or undefined, `scored` 1 where scored. */
export interface ScoreColumn {
  scorer: string;
  values: Float32Array;
  scored: Uint8Array;
}

/** The explanations as the filters read them: which features have one, and the text lower-cased for the search. */
export interface ExplanationColumn {
  /** 1 where the feature has an explanation. */
  has: Uint8Array;
  /** The explained features, ascending... */
  features: Uint32Array;
  /** ... and their explanations lower-cased, in the same order. */
  lowered: string[];
}

/** The columns these functions read (a FeatureTable has the first five; scores and explanations come later). */
export interface FeatureColumns {
  width: number;
  nnz: Uint32Array;
  windows: Uint32Array;
  max: Float32Array;
  mean: Float32Array;
  /** The density's denominator (a density filter needs it). */
  nTokens?: number;
  scores?: readonly ScoreColumn[];
  explained?: ExplanationColumn;
}

export interface FeatureFilter {
  /** Leave out features that never fire. */
  hideDead?: boolean;
  /** Keep only features with at least this many activating windows (those that would be explained). */
  minWindows?: number;
  /** Density bounds as shares of the tokens (0..1), both inclusive; a bound left out is open. */
  density?: { min?: number | undefined; max?: number | undefined };
  /** true: only features with an explanation; false: only those without. */
  explained?: boolean;
  /** Case-insensitive substring of the explanation (blank: no search); features without one never match. */
  search?: string;
  /** A scorer's headline score within [min, max]; unscored and undefined scores never pass a bound. */
  score?: { scorer: string; min?: number | undefined; max?: number | undefined };
}

/** Indexes the explanations (newest per feature) for the filters; features at or beyond `width` are left out. */
export function explanationColumn(explanations: Readonly<Record<number, string>>, width: number): ExplanationColumn {
  const has = new Uint8Array(width);
  const features: number[] = [];
  const lowered: string[] = [];
  // Integer keys come in ascending order.
  for (const key of Object.keys(explanations)) {
    const f = Number(key);
    if (!(Number.isInteger(f) && f >= 0 && f < width)) continue;
    has[f] = 1;
    features.push(f);
    lowered.push(explanations[f]!.toLowerCase());
  }
  return { has, features: Uint32Array.from(features), lowered };
}

const bound = (value: number | undefined): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/** 1 where the explanation contains `query` (already lower-cased and trimmed). */
function searchMask(explained: ExplanationColumn | undefined, width: number, query: string): Uint8Array {
  const mask = new Uint8Array(width);
  if (!explained) return mask;
  for (let i = 0; i < explained.features.length; i++) if (explained.lowered[i]!.includes(query)) mask[explained.features[i]!] = 1;
  return mask;
}

/** Feature indices passing `filter`, in index order. */
export function filterFeatures(columns: FeatureColumns, filter: FeatureFilter = {}): Uint32Array {
  const { width, nnz, windows } = columns;
  const minWindows = filter.minWindows ?? 0;
  const nTokens = columns.nTokens ?? 0;
  const minDensity = bound(filter.density?.min);
  const maxDensity = bound(filter.density?.max);
  const byDensity = minDensity !== undefined || maxDensity !== undefined;
  const noExplanations = new Uint8Array(0);
  const has = filter.explained === undefined ? undefined : (columns.explained?.has ?? noExplanations);
  const query = filter.search?.trim().toLowerCase() ?? '';
  const matches = query ? searchMask(columns.explained, width, query) : undefined;
  // The scores are float32: a bound typed as 0.6 must meet a score stored as 0.6.
  const minScore = bound(filter.score?.min) === undefined ? undefined : Math.fround(filter.score!.min!);
  const maxScore = bound(filter.score?.max) === undefined ? undefined : Math.fround(filter.score!.max!);
  // A scorer the table has no column of: no feature has its score, so none passes a bound.
  const scores = filter.score && (minScore !== undefined || maxScore !== undefined)
    ? (columns.scores?.find((column) => column.scorer === filter.score!.scorer)?.values ?? new Float32Array(0))
    : undefined;

  const kept = new Uint32Array(width);
  let n = 0;
  for (let f = 0; f < width; f++) {
    if (filter.hideDead && nnz[f] === 0) continue;
    if (minWindows > 0 && (windows[f]! < minWindows || nnz[f] === 0)) continue;
    if (byDensity) {
      const density = nTokens > 0 ? nnz[f]! / nTokens : 0;
      if ((minDensity !== undefined && density < minDensity) || (maxDensity !== undefined && density > maxDensity)) continue;
    }
    if (has && (has[f] === 1) !== filter.explained) continue;
    if (matches && matches[f] !== 1) continue;
    if (scores) {
      const score = scores[f];
      // undefined (beyond the column) and NaN fail both comparisons.
      if (score === undefined || Number.isNaN(score)) continue;
      if ((minScore !== undefined && score < minScore) || (maxScore !== undefined && score > maxScore)) continue;
    }
    kept[n++] = f;
  }
  return kept.subarray(0, n);
}

/** The column a key sorts by (density sorts as the non-zero count: the denominator is the same for all); undefined for a score column the table lacks. */
function sortColumn(columns: FeatureColumns, key: Exclude<SortKey, 'index'>): ArrayLike<number> | undefined {
  const scorer = scorerOfSortKey(key);
  if (scorer !== undefined) return columns.scores?.find((column) => column.scorer === scorer)?.values;
  if (key === 'density') return columns.nnz;
  return columns[key as 'windows' | 'max' | 'mean'];
}

/**
 * `features` (in index order) sorted by `key`; ties by lower index first, in both directions. NaN
 * (a score that is missing or undefined) goes last in both directions, in index order; a score column
 * the table lacks leaves the index order.
 */
export function sortFeatures(columns: FeatureColumns, features: Uint32Array, key: SortKey, direction: SortDirection): Uint32Array {
  if (key === 'index') return direction === 'asc' ? features : features.slice().reverse();
  const values = sortColumn(columns, key);
  if (!values) return features;
  const total = features.length;
  const [defined, last, keys, spare, spareKeys] = scratch(total);
  let n = 0;
  let m = 0;
  for (let i = 0; i < total; i++) {
    const f = features[i]!;
    const value = values[f];
    if (value === undefined || Number.isNaN(value)) last[m++] = f;
    else defined[n++] = f;
  }
  // One unsigned key per feature that orders as the values do (reversed for descending); a stable radix
  // sort over the keys keeps equal values in index order. 131072 features sort in a few milliseconds,
  // where a comparator sort takes a frame or three.
  const flip = direction === 'asc' ? 0 : 0xffffffff;
  if (values instanceof Float32Array) {
    // The floats' own bits, read through a view: no conversion per feature.
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < n; i++) {
      let b = bits[defined[i]!]!;
      if (b === 0x80000000) b = 0; // -0 is +0
      keys[i] = ((b & 0x80000000 ? ~b : b | 0x80000000) ^ flip) >>> 0;
    }
  } else if (values instanceof Uint32Array || values instanceof Uint16Array || values instanceof Uint8Array) {
    for (let i = 0; i < n; i++) keys[i] = (values[defined[i]!]! ^ flip) >>> 0;
  } else {
    for (let i = 0; i < n; i++) keys[i] = (orderedBits(values[defined[i]!]!) ^ flip) >>> 0;
  }
  const out = new Uint32Array(n + m);
  out.set(radixSort(n, defined, keys, spare, spareKeys).subarray(0, n), 0);
  out.set(last.subarray(0, m), n);
  return out;
}

/** Working arrays kept between sorts (a sort of 131072 features would otherwise leave megabytes to collect each time). */
let working = new Uint32Array(0);

/** Five working arrays of `n` entries each. */
function scratch(n: number): Uint32Array<ArrayBuffer>[] {
  if (working.length < 5 * n) working = new Uint32Array(5 * n);
  return [0, 1, 2, 3, 4].map((i) => working.subarray(i * n, (i + 1) * n));
}

const float = new Float32Array(1);
const floatBits = new Uint32Array(float.buffer);

/** The bits of a float32 as an unsigned integer that orders as the floats do (-0 as +0; not NaN). */
function orderedBits(value: number): number {
  float[0] = value === 0 ? 0 : value;
  const bits = floatBits[0]!;
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

const starts = new Uint32Array(65536);

/**
 * The first `n` of `items` ordered by their `keys`, stable: two passes of 16 bits (a pass skipped when
 * every key shares its digit), through `spare` and `spareKeys`. Every array is overwritten; the result
 * is one of them.
 */
function radixSort(n: number, items: Uint32Array, keys: Uint32Array, spare: Uint32Array, spareKeys: Uint32Array): Uint32Array {
  let [from, fromKeys, to, toKeys] = [items, keys, spare, spareKeys];
  for (const shift of [0, 16]) {
    starts.fill(0);
    for (let i = 0; i < n; i++) starts[(fromKeys[i]! >>> shift) & 0xffff]!++;
    if (n === 0 || starts[(fromKeys[0]! >>> shift) & 0xffff] === n) continue;
    let sum = 0;
    for (let digit = 0; digit < 65536; digit++) {
      const count = starts[digit]!;
      starts[digit] = sum;
      sum += count;
    }
    for (let i = 0; i < n; i++) {
      const key = fromKeys[i]!;
      const at = starts[(key >>> shift) & 0xffff]!++;
      to[at] = from[i]!;
      toKeys[at] = key;
    }
    [from, to] = [to, from];
    [fromKeys, toKeys] = [toKeys, fromKeys];
  }
  return from;
}

/** Feature indices passing `filter`, sorted by `key` (see sortFeatures). */
export function featureOrder(columns: FeatureColumns, key: SortKey, direction: SortDirection, filter: FeatureFilter = {}): Uint32Array {
  return sortFeatures(columns, filterFeatures(columns, filter), key, direction);
}

/** Features with at least `minExamples` activating windows (and any activation): those that would be explained. */
export function countQualifying(columns: Pick<FeatureColumns, 'width' | 'nnz' | 'windows'>, minExamples: number): number {
  let count = 0;
  for (let f = 0; f < columns.width; f++) if (columns.windows[f]! >= minExamples && columns.nnz[f]! > 0) count++;
  return count;
}

const COUNT = new Intl.NumberFormat('en-US');

/** A count with thousands separators (one formatter for every row: toLocaleString makes one per call). */
export const formatCount = (value: number): string => COUNT.format(value);

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

/** An activation in a table column: three significant digits kept (2.50 beside 2.87, not 2.5), so the column reads evenly. */
export function formatColumnActivation(value: number): string {
  const magnitude = Math.abs(value);
  return value !== 0 && magnitude >= 1e-3 && magnitude < 999.5 ? value.toPrecision(3) : formatActivation(value);
}

/** A score or metric with two decimals; "n/a" where it is undefined (null, NaN), never 0. */
export function formatScore(value: number | null | undefined): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(2) : 'n/a';
}
