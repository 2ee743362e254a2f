/**
 * What the headless commands (records, explain, score, autointerp) share: their I/O, bad usage as its own
 * error (exit 2), and running `main` when the file is the one Node was started with, with Ctrl-C or
 * SIGTERM as a cancellation (a second one quits at once).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeError, errorCode } from '../src/lib/index.ts';

/** An entry of a folder, with a link followed to what it points at (a link to nowhere is left out). */
export interface FolderEntry {
  name: string;
  path: string;
  isFile: boolean;
  isDirectory: boolean;
}

/** The entries of `dir`, symbolic links followed: a linked record, hook folder or cache split counts as what it links to. */
export function folderEntries(dir: string): FolderEntry[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = statSync(path, { throwIfNoEntry: false });
    return stat ? [{ name, path, isFile: stat.isFile(), isDirectory: stat.isDirectory() }] : [];
  });
}

/** Bad flags: the command prints the message and its usage line, and exits with 2. */
export class UsageError extends Error {}

/**
 * `--out` checked before anything else is asked (a tokenizer, an endpoint, a cache read): a folder, or
 * one that can be made, this process can write in. Nothing is left behind: a missing folder is made
 * when the first file is written. Throws UsageError naming the flag.
 */
export function checkOutFolder(out: string): void {
  const target = resolve(out);
  let existing = target;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (!statSync(existing).isDirectory()) {
    throw new UsageError(`--out: ${existing === target ? out : existing} is a file, not a folder; give a folder (it is made when missing).`);
  }
  // Tried, not inferred from permissions: root may write anywhere the modes forbid, and some folders
  // refuse new entries whatever the modes say (/proc, where Node's recursive mkdir then never returns).
  const probe = join(existing, `.autointerp-write-check-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UsageError(`--out: cannot write in ${existing === target ? out : `${existing} (to make ${out})`} (${why}); choose a folder you can write to.`);
  }
}

export interface CliIo {
  /** Results and the summary (stdout). */
  log: (line: string) => void;
  /** Progress, notes and errors (stderr). */
  info: (line: string) => void;
  signal?: AbortSignal;
}

/** What stopped a command: Ctrl-C (SIGINT) or SIGTERM, and the exit code that says so (128 + the signal's number). */
export interface StopRequest {
  by: 'Ctrl-C' | 'SIGTERM';
  exitCode: 130 | 143;
}

const STOPS: Record<'SIGINT' | 'SIGTERM', StopRequest> = {
  SIGINT: { by: 'Ctrl-C', exitCode: 130 },
  SIGTERM: { by: 'SIGTERM', exitCode: 143 },
};

/** The stop `signal` was aborted with; Ctrl-C when it was aborted without saying (a caller's own controller). */
export function stopOf(signal: AbortSignal | undefined): StopRequest {
  const reason = signal?.reason as Partial<StopRequest> | undefined;
  return reason?.by === 'SIGTERM' ? STOPS.SIGTERM : STOPS.SIGINT;
}

/**
 * Runs `main` with the process's arguments when `moduleUrl` (the caller's import.meta.url) is the entry
 * point. The first SIGINT (Ctrl-C) or SIGTERM aborts the signal, after printing `stopping`; a second quits
 * at once. A launcher that dies without passing the signal on (npx's shell: see watchLaunchers) counts as
 * SIGTERM. Once `main` has returned after a stop, the process exits at once rather than waiting for idle
 * connections to close. Called without await at the end of a command's module, so that importing the
 * module (the tests, autointerp) never waits on it.
 */
export async function runIfEntry(moduleUrl: string, stopping: string, main: (argv: string[], io: CliIo) => Promise<number>): Promise<void> {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(resolve(process.argv[1])).href) return;
  const controller = new AbortController();
  const stop = (signal: 'SIGINT' | 'SIGTERM') => {
    if (controller.signal.aborted) process.exit(STOPS[signal].exitCode);
    console.error(stopping);
    controller.abort(STOPS[signal]);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const watch = watchLaunchers(() => stop('SIGTERM'));
  const code = await main(process.argv.slice(2), { log: (line) => console.log(line), info: (line) => console.error(line), signal: controller.signal });
  clearInterval(watch);
  if (controller.signal.aborted) process.exit(code);
  process.exitCode = code;
}

/** How often the launchers are looked at: a stop is then seen within this. */
const LAUNCHER_POLL_MS = 200;

/**
 * `npx tsx file.ts` starts the command under npm, a shell and tsx: a SIGTERM or SIGINT sent to npm (the
 * process the user started) reaches the shell, which dies without passing it on, and the command would
 * go on alone. So, on Linux, the processes between this one and the nearest npm are noted at the start
 * and, when one of them is gone, `onGone` is called once. Nothing is watched when no npm launched this
 * process (node itself; `npm run`'s scripts `exec` node, so npm's signals reach it).
 */
export function watchLaunchers(onGone: () => void): ReturnType<typeof setInterval> | undefined {
  const chain = launcherChain();
  if (chain.length === 0) return undefined;
  const timer = setInterval(() => {
    if (chain.every(({ pid, start }) => processStart(pid) === start)) return;
    clearInterval(timer);
    onGone();
  }, LAUNCHER_POLL_MS);
  timer.unref();
  return timer;
}

/** /proc/<pid>/stat: the parent's pid, the start time (a reused pid has another), and the command's name. */
function procStat(pid: number): { ppid: number; start: string; name: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), start: fields[19]!, name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) };
  } catch {
    return undefined;
  }
}

const processStart = (pid: number) => procStat(pid)?.start;

/** The ancestors up to and including the nearest npm (npm run, npm exec, npx), or none when there is no npm. */
function launcherChain(): { pid: number; start: string }[] {
  const chain: { pid: number; start: string }[] = [];
  for (let pid = process.ppid; pid > 1 && chain.length < 8; ) {
    const stat = procStat(pid);
    if (!stat) return [];
    chain.push({ pid, start: stat.start });
    if (/^np[mx]\b/.test(stat.name) || isNpm(pid)) return chain;
    pid = stat.ppid;
  }
  return [];
}

/** npm runs as `node .../npm-cli.js` (or npx-cli.js), and names its process "npm ..." where it can. */
function isNpm(pid: number): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.slice(0, 3).some((arg) => /(^|\/)(npm|npx)(-cli\.js)?$|^npm (exec|run)/.test(arg));
  } catch {
    return false;
  }
}

/**
 * Runs a command's body: bad usage prints the message and the usage line (exit 2), a stop by a signal
 * (cancelled) exits with its code after the line `stopped` makes, any other error prints its message (exit 1).
 */
export async function commandMain(io: CliIo, usage: string, body: () => Promise<number>, stopped: (by: string) => string = (by) => `stopped by ${by}.`): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      io.info(error.message);
      io.info(usage);
      return 2;
    }
    if (errorCode(error) === 'cancelled') {
      const stop = stopOf(io.signal);
      io.info(stopped(stop.by));
      return stop.exitCode;
    }
    io.info(describeError(error));
    return 1;
  }
}
