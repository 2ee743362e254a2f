/** Per-feature scores as CSV (RFC 4180), for spreadsheets and pandas. */
import { AppError } from '../../errors.ts';

export interface ScoresCsvRow {
  hook: string;
  feature: number;
  explanation?: string;
  /** Per scorer, its metrics (e.g. `{ detection: { accuracy: 0.8, auc: null } }`); null for a metric that could not be computed. */
  metrics: Record<string, Record<string, number | null>>;
}

/** Quotes a field when it holds a quote, a comma or a line break; quotes inside are doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}

/**
 * One line per row: `hook,feature,explanation,<scorer>_<metric>...`. The metric columns are the
 * union over all rows, in the order they first appear (row by row, scorer by scorer); a row without
 * a column, or with null there, gets an empty field. Numbers are written in JavaScript's shortest
 * round-trip form; NaN and infinities as `NaN`, `inf`, `-inf` (what pandas reads). Lines end with
 * CRLF, as RFC 4180 says; the result ends with one. Throws results/bad-input when two
 * (scorer, metric) pairs make the same column name (`a_b` + `c` and `a` + `b_c`).
 */
export function scoresCsv(rows: readonly ScoresCsvRow[]): string {
  const columns: { scorer: string; metric: string; name: string }[] = [];
  const byKey = new Set<string>();
  const names = new Map<string, string>();
  for (const row of rows) {
    for (const [scorer, metrics] of Object.entries(row.metrics)) {
      for (const metric of Object.keys(metrics)) {
        const key = `${scorer}\u0000${metric}`;
        if (byKey.has(key)) continue;
        const name = `${scorer}_${metric}`;
        const other = names.get(name);
        if (other !== undefined || name === 'hook' || name === 'feature' || name === 'explanation') {
          throw new AppError('results/bad-input', `Scorer "${scorer}" metric "${metric}" makes the column ${name}, which ${other !== undefined ? `scorer "${other.split('\u0000')[0]}" metric "${other.split('\u0000')[1]}" also makes` : 'is already taken'}; rename one.`);
        }
        byKey.add(key);
        names.set(name, key);
        columns.push({ scorer, metric, name });
      }
    }
  }
  const lines = [['hook', 'feature', 'explanation', ...columns.map((column) => column.name)].map(csvField).join(',')];
  for (const row of rows) {
    const fields = [row.hook, String(row.feature), row.explanation ?? ''].map(csvField);
    for (const column of columns) {
      const metrics = Object.hasOwn(row.metrics, column.scorer) ? row.metrics[column.scorer]! : {};
      fields.push(formatNumber(Object.hasOwn(metrics, column.metric) ? metrics[column.metric] : null));
    }
    lines.push(fields.join(','));
  }
  return lines.map((line) => `${line}\r\n`).join('');
}
