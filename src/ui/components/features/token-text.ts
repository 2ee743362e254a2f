/** How a token's text is shown in examples and lists: whitespace made visible, nothing left blank. */

/** The piece with newlines, carriage returns and tabs as visible marks (spaces stay spaces, shown as they are). */
export function visiblePiece(piece: string): string {
  if (piece === '') return '∅';
  return piece.replace(/\r\n|\n/g, '↵').replace(/\r/g, '␍').replace(/\t/g, '⇥');
}

/** The text of token `id`, or its id when the tokenizer was not available. */
export const pieceOf = (pieces: Record<number, string>, id: number): string => pieces[id] ?? `#${id}`;
