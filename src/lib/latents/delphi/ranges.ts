/**
 * Split ranges as delphi computes them, and the `<start>_<end>.safetensors` names that carry them:
 * import takes a split's features from its file name, so naming lives next to the arithmetic.
 */
import { AppError } from '../../errors.ts';
import { basename, normalizePath } from '../../util/index.ts';

/** A range of features [start, end], end inclusive as in delphi's file names. */
export interface DelphiSplitRange {
  start: number;
  end: number;
}

/**
 * The feature ranges delphi writes for `width` features in `nSplits` files.
 *
 * delphi computes `torch.linspace(0, width, nSplits + 1).long()` and uses `[b[i], b[i+1] - 1]`.
 * torch's linspace is float32 and fills the first half of the points as `start + step * i` and the
 * second half as `end - step * (steps - 1 - i)` (step = (end - start) / (steps - 1) in float32);
 * `.long()` truncates. We do the same arithmetic with `Math.fround`, so widths whose float32 rounding
 * crosses an integer come out as delphi's do. For width 32768 and 5 splits that is 0_6552,
 * 6553_13106, 13107_19659, 19660_26213, 26214_32767 (file names seen in real delphi caches).
 */
export function splitRanges(width: number, nSplits: number): DelphiSplitRange[] {
  if (!Number.isSafeInteger(width) || width < 1 || width >= 2 ** 24) {
    throw new AppError('delphi/bad-input', `The SAE width must be an integer from 1 to 2^24 - 1 (float32 splits are exact below that), got ${width}.`);
  }
  if (!Number.isSafeInteger(nSplits) || nSplits < 1 || nSplits > width) {
    throw new AppError('delphi/bad-input', `The number of splits must be an integer from 1 to the width (${width}), got ${nSplits}: delphi would write empty or negative ranges.`);
  }
  const f = Math.fround;
  const steps = nSplits + 1;
  const end = f(width);
  const step = f(end / f(steps - 1));
  const halfway = Math.floor(steps / 2);
  const boundaries: number[] = [];
  for (let i = 0; i < steps; i++) {
    const value = i < halfway ? f(step * f(i)) : f(end - f(step * f(steps - 1 - i)));
    boundaries.push(Math.trunc(value));
  }
  const ranges: DelphiSplitRange[] = [];
  for (let i = 0; i < nSplits; i++) ranges.push({ start: boundaries[i]!, end: boundaries[i + 1]! - 1 });
  return ranges;
}

/** `<start>_<end>.safetensors` */
export const splitFileName = (range: DelphiSplitRange): string => `${range.start}_${range.end}.safetensors`;

const SPLIT_NAME = /^(\d+)_(\d+)\.safetensors$/;

/** Parses `<start>_<end>.safetensors` (the file name only, no folder); null when it does not match. */
export function parseSplitFileName(name: string): DelphiSplitRange | null {
  const match = SPLIT_NAME.exec(name);
  if (!match) return null;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return null;
  return { start, end };
}

/** The file name of a path given with '/' or '\' between folders. */
export const baseName = (path: string) => basename(normalizePath(path));

/** The feature range a split file's name gives, or a delphi/bad-split error that says why there is none. */
export function rangeFromPath(path: string): DelphiSplitRange {
  const name = baseName(path);
  const range = parseSplitFileName(name);
  if (!range) throw new AppError('delphi/bad-split', `"${path}" is not named <start>_<end>.safetensors, so its feature range is unknown. delphi names split files like 0_6552.safetensors.`);
  if (range.end < range.start) throw new AppError('delphi/bad-split', `"${path}" names the empty range ${range.start}..${range.end}.`);
  return range;
}
