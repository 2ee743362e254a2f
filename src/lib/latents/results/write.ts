/** Explanations and scores written in delphi's layout, as files or as one zip. */
import { AppError } from '../../errors.ts';
import { ZipWriter } from '../../formats/index.ts';
import { throwIfAborted } from '../../util/index.ts';
import { checkFeature, checkSegment, EXPLANATIONS_DIR, normalizePrefix, resultFileName, SCORES_DIR } from './layout.ts';
import { normalizeScoreExample } from './records.ts';
import type { FeatureResults, ResultsFile } from './types.ts';

export interface ResultsFilesOptions {
  /** A folder to put explanations/ and scores/ in (e.g. the run's name); none by default. */
  prefix?: string;
}

export interface ResultsZipOptions extends ResultsFilesOptions {
  /** Modification time stored in the zip (default now); fix it for byte-identical archives. */
  date?: Date;
  signal?: AbortSignal;
}

const encoder = new TextEncoder();
const encode = (text: string): Uint8Array<ArrayBuffer> => encoder.encode(text) as Uint8Array<ArrayBuffer>;

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The files delphi would have written for these results: `explanations/<hook>_latent<f>.txt` (the
 * explanation as a JSON string, `JSON.stringify(text)`) for every feature with an explanation, then
 * `scores/<scorer>/<hook>_latent<f>.txt` (a JSON array of records with delphi's seven keys in
 * delphi's order) per scorer. Features are sorted by hook and index; an empty list of examples is
 * written as `[]`. Throws results/bad-input for a hook or scorer that cannot be a file or folder
 * name, a feature given twice, or a record delphi could not read (NaN and infinities included: JSON
 * has no place for them).
 */
export function resultsToDelphiFiles(results: readonly FeatureResults[], options: ResultsFilesOptions = {}): ResultsFile[] {
  const prefix = normalizePrefix(options.prefix);
  const at = (path: string) => (prefix ? `${prefix}/${path}` : path);
  const sorted = checkResults(results);
  const files: ResultsFile[] = [];
  for (const result of sorted) {
    if (result.explanation === undefined) continue;
    if (typeof result.explanation !== 'string') {
      throw new AppError('results/bad-input', `The explanation of ${result.hook} feature ${result.feature} is not a string.`);
    }
    files.push({ path: at(`${EXPLANATIONS_DIR}/${resultFileName(result.hook, result.feature)}`), bytes: encode(JSON.stringify(result.explanation)) });
  }
  const scorers = [...new Set(sorted.flatMap((result) => Object.keys(result.scores)))].sort(compare);
  for (const scorer of scorers) {
    checkSegment(scorer, 'a scorer name', 'detection or fuzz');
    for (const result of sorted) {
      const examples = Object.hasOwn(result.scores, scorer) ? result.scores[scorer] : undefined;
      if (examples === undefined) continue;
      const name = resultFileName(result.hook, result.feature);
      if (!Array.isArray(examples)) throw new AppError('results/bad-input', `The ${scorer} scores of ${result.hook} feature ${result.feature} are not a list of examples.`);
      const records = examples.map((example, i) => normalizeScoreExample(example, `${scorer} score of ${result.hook} feature ${result.feature}, example ${i}`, 'results/bad-input'));
      files.push({ path: at(`${SCORES_DIR}/${scorer}/${name}`), bytes: encode(JSON.stringify(records)) });
    }
  }
  return files;
}

/**
 * A zip of `resultsToDelphiFiles`: unzipped next to delphi's `latents/` (or into a run folder), it is
 * what delphi's own scripts and `log_results` read.
 */
export async function exportResultsZip(results: readonly FeatureResults[], options: ResultsZipOptions = {}): Promise<Blob> {
  const files = resultsToDelphiFiles(results, options.prefix === undefined ? {} : { prefix: options.prefix });
  const zip = new ZipWriter(options.date ? { date: options.date } : {});
  for (const file of files) {
    throwIfAborted(options.signal, 'The results export');
    await zip.add(file.path, file.bytes);
  }
  return zip.finish();
}

/** Checks hooks and features, refuses duplicates, sorts by hook then feature. */
function checkResults(results: readonly FeatureResults[]): FeatureResults[] {
  const seen = new Set<string>();
  for (const result of results) {
    checkSegment(result.hook, 'a hook name', 'layers.6 or blocks.6.hook_resid_pre');
    checkFeature(result.feature, result.hook);
    const key = `${result.hook}\u0000${result.feature}`;
    if (seen.has(key)) throw new AppError('results/bad-input', `${result.hook} feature ${result.feature} is given twice; each feature has one explanation file and one score file per scorer.`);
    seen.add(key);
    if (typeof result.scores !== 'object' || result.scores === null) {
      throw new AppError('results/bad-input', `${result.hook} feature ${result.feature} has no scores object (use {} for none).`);
    }
  }
  return [...results].sort((a, b) => compare(a.hook, b.hook) || a.feature - b.feature);
}
