/**
 * Explanations and scores read back from delphi's layout: a dropped folder (any folders above
 * explanations/ and scores/, e.g. the run's results/<name>/) or a zip.
 */
import { AppError } from '../../errors.ts';
import { readZip } from '../../formats/index.ts';
import { isSystemFile, normalizePath, throwIfAborted } from '../../util/index.ts';
import type { DelphiInputFile } from '../delphi/index.ts';
import { EXPLANATIONS_DIR, parseResultFileName, SCORES_DIR } from './layout.ts';
import { parseExplanationFile, parseScoreFile } from './records.ts';
import type { DelphiScoreExample, FeatureResults } from './types.ts';

export interface ReadResultsOptions {
  /**
   * Read only these scorers' folders under scores/ (others are skipped unread), e.g. to import the
   * classifier scores of a run that also has a scorer whose files hold other records. All by default.
   */
  scorers?: readonly string[];
  signal?: AbortSignal;
}

/** A feature while its files are read. */
interface Read {
  hook: string;
  feature: number;
  explanation?: string;
  scores: Map<string, DelphiScoreExample[]>;
}

interface Found {
  path: string;
  blob: Blob;
  prefix: string;
  /** null for an explanation. */
  scorer: string | null;
  name: string;
}

/** Files read at once: thousands of small files read one after the other are slow in a browser. */
const PARALLEL_READS = 32;

const LAYOUT = 'delphi writes explanations/<hook>_latent<f>.txt and scores/<scorer>/<hook>_latent<f>.txt (e.g. explanations/layers.6_latent12.txt)';

/**
 * Reads delphi's results: every `explanations/*.txt` and `scores/<scorer>/*.txt` among the files,
 * whatever folders lie above them (they must be the same for all: one run at a time). Other files
 * (latents/, run_config.json, logs, non-.txt files) are ignored. Returns one entry per feature that
 * has an explanation or a score, sorted by hook then feature, its scorers in name order.
 *
 * Errors: results/not-found (no such files), results/bad-name (a .txt there not named
 * `<hook>_latent<f>.txt`), results/bad-file (not UTF-8 JSON, an explanation that is not a string, a
 * score file that is not an array of records with delphi's keys), results/mixed (two runs, or one
 * file twice).
 */
export async function readDelphiResults(files: readonly DelphiInputFile[], options: ReadResultsOptions = {}): Promise<FeatureResults[]> {
  const found = locate(files, options.scorers);
  const byFeature = new Map<string, Read>();
  const seen = new Set<string>();
  const entry = (hook: string, feature: number): Read => {
    const key = `${hook}\u0000${feature}`;
    let result = byFeature.get(key);
    if (!result) {
      result = { hook, feature, scores: new Map() };
      byFeature.set(key, result);
    }
    return result;
  };
  const named = found.map((file) => {
    const parsed = parseResultFileName(file.name);
    if (!parsed) {
      throw new AppError('results/bad-name', `${file.path}: "${file.name}" is not named <hook>_latent<feature>.txt; ${LAYOUT}.`);
    }
    const key = `${file.scorer ?? ''}\u0000${parsed.hook}\u0000${parsed.feature}`;
    if (seen.has(key)) throw new AppError('results/mixed', `${file.path} appears twice among the files; drop one copy of the run.`);
    seen.add(key);
    return { ...file, ...parsed };
  });
  for (let first = 0; first < named.length; first += PARALLEL_READS) {
    throwIfAborted(options.signal, 'Reading the results');
    const batch = named.slice(first, first + PARALLEL_READS);
    for (const file of batch) {
      const most = file.scorer === null ? MAX_RESULT_FILE_BYTES.explanation : MAX_RESULT_FILE_BYTES.score;
      if (file.blob.size > most) throw new AppError('results/bad-file', `${file.path} has ${(file.blob.size / 2 ** 20).toFixed(1)} MB, more than the ${most / 2 ** 20} MB ${file.scorer === null ? 'an explanation' : 'a score file'} may have: it cannot be one. Nothing was imported.`);
    }
    const texts = await Promise.all(batch.map((file) => readText(file.blob, file.path)));
    batch.forEach((file, i) => {
      const result = entry(file.hook, file.feature);
      if (file.scorer === null) result.explanation = parseExplanationFile(texts[i]!, file.path);
      else result.scores.set(file.scorer, parseScoreFile(texts[i]!, file.path));
    });
  }
  const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...byFeature.values()]
    .sort((a, b) => compare(a.hook, b.hook) || a.feature - b.feature)
    .map(({ hook, feature, explanation, scores }) => {
      // fromEntries defines own properties, so a folder named __proto__ cannot reach the prototype.
      const sorted: Record<string, DelphiScoreExample[]> = Object.fromEntries([...scores.entries()].sort(([a], [b]) => compare(a, b)));
      return explanation === undefined ? { hook, feature, scores: sorted } : { hook, feature, explanation, scores: sorted };
    });
}

/** The most bytes an explanation file and a score file may have: more is no explanation or score (the largest real ones are a few kB and a few MB). */
export const MAX_RESULT_FILE_BYTES = { explanation: 2 ** 20, score: 256 * 2 ** 20 } as const;

/** Whether a path is one a results import reads (explanations/, scores/): others are skipped unread. */
const resultPath = (path: string): boolean => /(^|\/)(explanations|scores)\/[^/]/.test(normalizePath(path));
const resultFileLimit = (path: string): number => (/(^|\/)explanations\//.test(normalizePath(path)) ? MAX_RESULT_FILE_BYTES.explanation : MAX_RESULT_FILE_BYTES.score);

/**
 * The entries of a results zip: only explanations/ and scores/ are opened (a deflated entry elsewhere is
 * never inflated), and one over its size limit is refused with its size before it is read.
 */
export async function readResultsZip(archive: Blob, signal?: AbortSignal): Promise<DelphiInputFile[]> {
  return readZip(archive, { accept: resultPath, maxEntryBytes: resultFileLimit, ...(signal && { signal }) });
}

/** Opens a zip (made by `exportResultsZip`, by zipping delphi's run folder, or by any tool) and reads the results in it. */
export async function readDelphiResultsZip(archive: Blob, options: ReadResultsOptions = {}): Promise<FeatureResults[]> {
  return readDelphiResults(await readResultsZip(archive, options.signal), options);
}

/** The scorer folders among the files (`scores/<scorer>/*.txt`), in name order, without reading any file. */
export function resultScorers(files: readonly DelphiInputFile[]): string[] {
  const scorers = new Set<string>();
  for (const file of files) {
    if (isSystemFile(file.path)) continue;
    const parts = normalizePath(file.path).split('/');
    if (parts.length >= 3 && parts[parts.length - 3] === SCORES_DIR && parts[parts.length - 1]!.toLowerCase().endsWith('.txt')) scorers.add(parts[parts.length - 2]!);
  }
  return [...scorers].sort();
}

/** The explanation and score files, checked to come from one run. */
function locate(files: readonly DelphiInputFile[], scorers: readonly string[] | undefined): Found[] {
  const found: Found[] = [];
  const prefixes = new Map<string, string>();
  for (const file of files) {
    if (isSystemFile(file.path)) continue;
    const path = normalizePath(file.path);
    const parts = path.split('/');
    const name = parts[parts.length - 1]!;
    if (!name.toLowerCase().endsWith('.txt')) continue;
    let item: Found | null = null;
    if (parts.length >= 2 && parts[parts.length - 2] === EXPLANATIONS_DIR) {
      item = { path, blob: file.blob, prefix: parts.slice(0, -2).join('/'), scorer: null, name };
    } else if (parts.length >= 3 && parts[parts.length - 3] === SCORES_DIR) {
      item = { path, blob: file.blob, prefix: parts.slice(0, -3).join('/'), scorer: parts[parts.length - 2]!, name };
    }
    if (!item) continue;
    if (!prefixes.has(item.prefix)) prefixes.set(item.prefix, path);
    if (item.scorer !== null && scorers && !scorers.includes(item.scorer)) continue;
    found.push(item);
  }
  if (prefixes.size > 1) {
    const list = [...prefixes.entries()].map(([prefix, path]) => `${prefix || '(the top)'} (e.g. ${path})`).join(', ');
    throw new AppError('results/mixed', `The files hold the results of more than one run, in ${list}. Drop one run's folder (the one that holds explanations/ and scores/) at a time.`);
  }
  if (found.length === 0) {
    const why = prefixes.size > 0 ? ` (there are score files, but none of the scorers ${(scorers ?? []).join(', ')})` : '';
    throw new AppError('results/not-found', `No delphi explanations or scores found among ${files.length} files${why}; ${LAYOUT}. Drop the run's folder (or a zip of it).`);
  }
  return found;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

async function readText(blob: Blob, path: string): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  try {
    return decoder.decode(bytes);
  } catch {
    throw new AppError('results/bad-file', `${path} is not UTF-8 text; delphi writes its explanations and scores as UTF-8 JSON.`);
  }
}
