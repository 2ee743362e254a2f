/** A file's name for messages: a File's name, or a neutral phrase for a bare Blob. */
export const blobName = (blob: Blob): string => {
  const name = (blob as Partial<File>).name;
  return typeof name === 'string' && name ? `"${name}"` : 'the file';
};

/** Control characters, lone surrogates and U+FFFD (what invalid UTF-8 decodes to): never shown raw in a message. */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\uFFFD]/u;

const escapeChar = (char: string): string =>
  char === '\t' ? '\\t' : char === '\r' ? '\\r' : char === '\n' ? '\\n' : `\\u${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * At most `max` characters of `text` for a message (default 40), whole characters only, with "..."
 * when cut; unprintable characters shown as escapes (`\u0000`, `\t`, invalid UTF-8 as `\uFFFD`), which
 * count toward `max`.
 */
export function printableExcerpt(text: string, max = 40): string {
  let out = '';
  for (const char of text) {
    const shown = UNPRINTABLE.test(char) ? escapeChar(char) : char;
    if (out.length + shown.length > max) return `${out}...`;
    out += shown;
  }
  return out;
}

/**
 * False for what a binary file decodes to: a NUL, or more than 1 unprintable character in 10 among the
 * first 1000 (text files may hold the odd stray control character or invalid byte).
 */
export function looksLikeText(text: string): boolean {
  const head = Array.from(text.slice(0, 1000));
  const unprintable = head.filter((char) => char !== '\t' && UNPRINTABLE.test(char)).length;
  return !head.includes('\0') && unprintable * 10 <= head.length;
}
