/**
 * Streams a Blob as text lines: bytes go through a TextDecoderStream chunk by chunk, so a 1 GB file is
 * never held as one string (only the line in hand is). Lines end at '\n'; a '\r' before it is removed;
 * a UTF-8 byte order mark is skipped; invalid UTF-8 becomes U+FFFD.
 */
import { AppError } from '../errors.ts';
import { isAbortError, throwIfAborted } from '../util/index.ts';
import { blobName } from './util.ts';

export async function* textChunks(blob: Blob, signal?: AbortSignal): AsyncGenerator<string> {
  const reader = blob.stream().pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      throwIfAborted(signal, `Reading ${blobName(blob)}`);
      let result: ReadableStreamReadResult<string>;
      try {
        result = await reader.read();
      } catch (error) {
        if (isAbortError(error)) throw new AppError('cancelled', `Reading ${blobName(blob)} was cancelled.`);
        throw new AppError('corpus/fetch-failed', `Could not read ${blobName(blob)} (${(error as Error).message}). Pick the file again: the browser may have lost access to it.`);
      }
      if (result.done) return;
      yield result.value;
    }
  } finally {
    // Stopping early (the token budget is reached) must release the file.
    await reader.cancel().catch(() => undefined);
  }
}

/** The lines of a text Blob, without their line endings. A final line without '\n' is included. */
export async function* readLines(blob: Blob, signal?: AbortSignal): AsyncGenerator<string> {
  let pending: string[] = [];
  const take = (tail: string): string => {
    pending.push(tail);
    const line = pending.length === 1 ? tail : pending.join('');
    pending = [];
    return line.endsWith('\r') ? line.slice(0, -1) : line;
  };
  for await (const chunk of textChunks(blob, signal)) {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      yield take(chunk.slice(start, end));
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.slice(start));
  }
  if (pending.length > 0) yield take('');
}
