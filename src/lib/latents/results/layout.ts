/**
 * delphi's results layout (delphi/__main__.py): beside `latents/`, a run folder holds
 *   explanations/<hook>_latent<f>.txt           the explanation, a JSON string
 *   scores/<scorer>/<hook>_latent<f>.txt        a JSON array of per-example records
 * where `<hook>_latent<f>` is str(Latent) (module path, `_latent`, index). Hook names hold dots and
 * may hold `_latent` themselves, so names are parsed from the right.
 */
import { AppError } from '../../errors.ts';

export const EXPLANATIONS_DIR = 'explanations';
export const SCORES_DIR = 'scores';

/** `<hook>_latent<f>.txt`: the hook is everything before the last `_latent` followed by digits and `.txt`. */
const NAME = /^(.+)_latent(0|[1-9][0-9]*)\.txt$/s;

/** delphi's file name of a feature: `<hook>_latent<f>.txt`. */
export const resultFileName = (hook: string, feature: number): string => `${hook}_latent${feature}.txt`;

/** Hook and feature from a file name, or null when it is not `<hook>_latent<f>.txt`. */
export function parseResultFileName(name: string): { hook: string; feature: number } | null {
  const match = NAME.exec(name);
  if (!match) return null;
  const feature = Number(match[2]);
  if (!Number.isSafeInteger(feature)) return null;
  return { hook: match[1]!, feature };
}

/** A name that can be one path segment on every system delphi and this app run on. */
export function checkSegment(name: string, what: string, example: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\\\u0000-\u001f]/.test(name)) {
    throw new AppError('results/bad-input', `${JSON.stringify(name)} cannot be ${what}: it becomes part of a file name (no slashes, no control characters, not empty, '.' or '..'); e.g. ${example}.`);
  }
}

export function checkFeature(feature: number, hook: string): void {
  if (!Number.isSafeInteger(feature) || feature < 0) {
    throw new AppError('results/bad-input', `Feature ${String(feature)} of ${hook} is not a feature index (a whole number, 0 or more).`);
  }
}

/** A prefix folder, '/'-separated, without empty, '.' or '..' parts; '' for none. */
export function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  const parts = prefix.replace(/\\/g, '/').split('/').filter((part) => part !== '' && part !== '.');
  for (const part of parts) checkSegment(part, 'a folder of the prefix', 'results/my-run');
  return parts.join('/');
}
