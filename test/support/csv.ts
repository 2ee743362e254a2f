/** A strict RFC 4180 reader for the tests: quoted fields with doubled quotes, CRLF after every line (the last too). */
export function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length > 0) throw new Error('The CSV does not end with CRLF.');
  return rows;
}

/** The lines after the header as records by column name. */
export function readCsvRecords(text: string): Record<string, string>[] {
  const [head, ...body] = readCsv(text);
  return body.map((cells) => Object.fromEntries(head!.map((name, i) => [name, cells[i] ?? ''])));
}
