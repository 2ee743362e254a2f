/**
 * What the headless commands (records, explain) share: their I/O, bad usage as its own error (exit 2),
 * and running `main` when the file is the one Node was started with, with Ctrl-C as a cancellation
 * (a second Ctrl-C quits at once).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Bad flags: the command prints the message and its usage line, and exits with 2. */
export class UsageError extends Error {}

export interface CliIo {
  /** Results and the summary (stdout). */
  log: (line: string) => void;
  /** Progress, notes and errors (stderr). */
  info: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Runs `main` with the process's arguments when `moduleUrl` (the caller's import.meta.url) is the entry
 * point. The first Ctrl-C aborts the signal, after printing `stopping`; a second quits at once.
 */
export async function runIfEntry(moduleUrl: string, stopping: string, main: (argv: string[], io: CliIo) => Promise<number>): Promise<void> {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(resolve(process.argv[1])).href) return;
  const controller = new AbortController();
  process.once('SIGINT', () => {
    console.error(stopping);
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  process.exitCode = await main(process.argv.slice(2), { log: (line) => console.log(line), info: (line) => console.error(line), signal: controller.signal });
}
