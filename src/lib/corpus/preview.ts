/**
 * A few packed rows as text, for the UI to show what the model will read.
 */
export interface RowPreview {
  /** Row index in the matrix. */
  row: number;
  tokens: number[];
  /** The row decoded as a whole. */
  text: string;
  /** Each token decoded alone (a token holding part of a multi-byte character decodes to U+FFFD). */
  pieces: string[];
}

export function previewRows(matrix: Uint32Array, ctx: number, decode: (ids: number[]) => string, n = 3, start = 0): RowPreview[] {
  const nRows = Math.floor(matrix.length / ctx);
  const out: RowPreview[] = [];
  for (let row = Math.max(0, start); row < Math.min(nRows, start + n); row++) {
    const tokens = Array.from(matrix.subarray(row * ctx, (row + 1) * ctx));
    out.push({ row, tokens, text: decode(tokens), pieces: tokens.map((id) => decode([id])) });
  }
  return out;
}
