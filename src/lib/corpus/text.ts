/**
 * Plain-text files. delphi treats each dataset row as a document; a .txt file has no rows, so by
 * default each paragraph is a document: a run of lines ended by a blank line (empty or whitespace
 * only) or the end of the file. Line breaks inside a paragraph are kept; nothing is trimmed.
 * Alternatives: 'lines' (every non-blank line is a document) and 'whole' (the file is one document;
 * it is then held in memory as one string, so only for small files).
 */
import type { ReadOptions } from './types.ts';
import { readLines } from './lines.ts';

export type TextSplit = 'paragraphs' | 'lines' | 'whole';

export interface TextReadOptions extends ReadOptions {
  /** How the file is cut into documents (default 'paragraphs'). */
  split?: TextSplit;
}

const isBlank = (line: string): boolean => line.trim() === '';

export async function* readTextFile(blob: Blob, options: TextReadOptions = {}): AsyncGenerator<string> {
  const split = options.split ?? 'paragraphs';
  const lines = readLines(blob, options.signal);
  if (split === 'lines') {
    for await (const line of lines) if (!isBlank(line)) yield line;
    return;
  }
  if (split === 'whole') {
    const all: string[] = [];
    for await (const line of lines) all.push(line);
    const text = all.join('\n');
    if (!isBlank(text)) yield text;
    return;
  }
  let paragraph: string[] = [];
  for await (const line of lines) {
    if (isBlank(line)) {
      if (paragraph.length > 0) yield paragraph.join('\n');
      paragraph = [];
    } else {
      paragraph.push(line);
    }
  }
  if (paragraph.length > 0) yield paragraph.join('\n');
}
