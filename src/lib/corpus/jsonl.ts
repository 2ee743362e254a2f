/**
 * JSON Lines files: one JSON object per line, the document text in one of its fields (the column).
 * Read line by line from a stream. Blank lines are skipped. A line that is not a JSON object stops
 * the read with its line number and a short printable excerpt (a line that does not look like text,
 * e.g. a binary file named .jsonl, is called that). The column must exist in the first object (else the error lists
 * the columns there); in later lines a missing or null value is an empty document (the packer counts
 * it and skips it); a value that is not a string is an error.
 */
import { AppError } from '../errors.ts';
import { readLines } from './lines.ts';
import { suggestColumn, type ColumnInfo, type ColumnListing, type ReadOptions } from './types.ts';
import { blobName, looksLikeText, printableExcerpt } from './util.ts';

function parseLine(line: string, lineNumber: number, blob: Blob): Record<string, unknown> {
  let value: unknown;
  const where = `Line ${lineNumber} of ${blobName(blob)}`;
  try {
    value = JSON.parse(line);
  } catch (error) {
    if (!looksLikeText(line)) {
      throw new AppError('corpus/bad-jsonl', `${where} does not look like text (it starts "${printableExcerpt(line)}"): is it a binary file named .jsonl? A .jsonl file is UTF-8 text with one JSON object per line.`);
    }
    // The parser's message quotes the line too: it gets the same treatment.
    throw new AppError('corpus/bad-jsonl', `${where} is not valid JSON (${printableExcerpt((error as Error).message, 80)}): "${printableExcerpt(line)}". Every line of a .jsonl file must be one JSON object; fix or delete that line.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('corpus/bad-jsonl', `${where} is JSON but not an object: "${printableExcerpt(line)}". Every line of a .jsonl file must be one JSON object such as {"text": "..."}.`);
  }
  return value as Record<string, unknown>;
}

const jsonType = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/** Numbered non-blank lines, parsed. */
async function* records(blob: Blob, signal: AbortSignal | undefined): AsyncGenerator<[number, Record<string, unknown>]> {
  let lineNumber = 0;
  for await (const line of readLines(blob, signal)) {
    lineNumber++;
    if (line.trim() === '') continue;
    yield [lineNumber, parseLine(line, lineNumber, blob)];
  }
}

export async function* readJsonl(blob: Blob, column: string, options: ReadOptions = {}): AsyncGenerator<string> {
  let first = true;
  for await (const [lineNumber, record] of records(blob, options.signal)) {
    if (first && !Object.hasOwn(record, column)) {
      const names = Object.keys(record);
      throw new AppError('corpus/missing-column', `${blobName(blob)} has no column "${column}": its first line has ${names.length ? names.map((n) => `"${n}"`).join(', ') : 'no fields'}. Pick one of those.`);
    }
    first = false;
    const value = record[column];
    if (typeof value === 'string') yield value;
    else if (value === undefined || value === null) yield '';
    else throw new AppError('corpus/not-text', `Column "${column}" on line ${lineNumber} of ${blobName(blob)} holds ${jsonType(value) === 'array' ? 'an array' : `a ${jsonType(value)}`}, not text. Pick a column whose values are strings.`);
  }
}

/** The columns seen in the first `maxLines` objects (default 100), in order of first appearance. */
export async function listJsonlColumns(blob: Blob, options: ReadOptions & { maxLines?: number } = {}): Promise<ColumnListing> {
  const maxLines = options.maxLines ?? 100;
  const seen = new Map<string, { types: Set<string>; example?: string }>();
  let rows = 0;
  const iterator = records(blob, options.signal);
  for await (const [, record] of iterator) {
    for (const [name, value] of Object.entries(record)) {
      let entry = seen.get(name);
      if (!entry) seen.set(name, (entry = { types: new Set() }));
      entry.types.add(jsonType(value));
      if (entry.example === undefined && typeof value === 'string' && value.trim() !== '') entry.example = value.slice(0, 200);
    }
    if (++rows >= maxLines) break;
  }
  const columns: ColumnInfo[] = [...seen].map(([name, { types, example }]) => {
    const nonNull = [...types].filter((t) => t !== 'null');
    const type = nonNull.length === 0 ? 'null' : nonNull.length === 1 ? nonNull[0]! : 'mixed';
    return { name, type, isText: type === 'string', ...(example !== undefined ? { example } : {}) };
  });
  return { columns, suggested: suggestColumn(columns), rows };
}
