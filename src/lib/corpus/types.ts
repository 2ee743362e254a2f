/**
 * Records shared by the corpus readers.
 */

/** Options every document reader takes. */
export interface ReadOptions {
  /** Stops the read: the iterator throws an AppError with code 'cancelled'. */
  signal?: AbortSignal;
}

/** One column of a tabular source, for the UI's column picker. */
export interface ColumnInfo {
  name: string;
  /** The type as the source describes it: a JSON type ('string', 'number', 'mixed', ...) or a parquet one ('BYTE_ARRAY (STRING)'). */
  type: string;
  /** True when the column holds text, so that it can be the corpus column. */
  isText: boolean;
  /** The first non-empty text value seen, cut to 200 characters (JSONL only; parquet lists columns from the footer alone). */
  example?: string;
}

export interface ColumnListing {
  columns: ColumnInfo[];
  /** `text` when it is a text column, else the first text column, else undefined. */
  suggested: string | undefined;
  /** Rows the listing looked at (JSONL: the first lines) or the total rows (parquet: from the footer). */
  rows: number;
}

export function suggestColumn(columns: ColumnInfo[]): string | undefined {
  return columns.find((c) => c.name === 'text' && c.isText)?.name ?? columns.find((c) => c.isText)?.name;
}
