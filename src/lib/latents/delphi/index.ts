/**
 * delphi's on-disk activation cache (EleutherAI delphi, `latents/cache.py` `save_splits` and
 * `save_config`; `latents/loader.py` reads it), imported and exported.
 *
 * Per hook point a folder `<hook>/` holds `config.json` and one safetensors file per range of
 * features, named `<start>_<end>.safetensors` with an inclusive end. Each file holds
 *   - `locations` [N, 3]: (row, position, feature - start), sorted by (row, position, feature), the
 *     order `torch.nonzero` produces over [batch, seq, latent] batches taken in row order;
 *   - `activations` [N] float16;
 *   - `tokens` [n_rows, ctx]: the whole token matrix, repeated in every file (absent when delphi ran
 *     with `save_tokens=False`).
 *
 * Dtypes, as delphi writes them and as we write them:
 *   - `locations`: U16 when the largest row and the largest feature offset are both below 2^16, else
 *     U32 (numpy `astype` of the int64 `torch.nonzero` output). delphi does not look at positions:
 *     with a context of more than 65536 tokens it would wrap them silently; we also require the
 *     positions to fit before choosing U16, which changes nothing for any context delphi can use.
 *     A split without non-zeros makes delphi fail (`max()` of an empty array); we write it as an
 *     empty U16 [0, 3] tensor, which delphi's loader reads fine.
 *   - `activations`: F16 (`.half()`, round to nearest even).
 *   - `tokens`: I64, because delphi's tokens come from `datasets` in torch format (int64 tensors) and
 *     are saved with `.numpy()` unchanged.
 * On import any integer dtype is accepted for `locations` and `tokens`, and any float dtype for
 * `activations`; the split ranges are taken from the file names, so they need not follow delphi's
 * rounding as long as they tile [0, width).
 *
 * Export streams one split at a time (a 10M-token cache never has to be in memory at once); import
 * reads headers and the token matrix first (`readDelphiFolder`) and then one split at a time
 * (`decodeDelphiSplit`). Plain TypeScript, no DOM: runs in workers and in Node.
 *
 * Files: ranges.ts (split ranges and file names), config.ts (config.json), order.ts (the non-zeros'
 * order), encode.ts and decode.ts (one split), folder.ts (a dropped folder or zip, checked),
 * export.ts (files or a zip).
 */
export { delphiConfig, encodeDelphiConfig, parseDelphiConfig, type DelphiCacheConfig, type DelphiConfigOptions } from './config.ts';
export { decodeDelphiSplit, type DecodeSplitOptions, type DelphiSplit } from './decode.ts';
export { delphiNonZerosOf, encodeDelphiSplit, type DelphiNonZeros, type DelphiNonZerosInput, type DelphiSplitInput } from './encode.ts';
export { delphiFiles, exportDelphiZip, type DelphiExportOptions, type DelphiExportProgress, type DelphiHookExport, type DelphiOutputFile } from './export.ts';
export { hashTokens, readDelphiFolder, readDelphiZip, type DelphiHookCache, type DelphiInputFile, type DelphiSplitFile, type ReadDelphiOptions } from './folder.ts';
export { parseSplitFileName, splitFileName, splitRanges, type DelphiSplitRange } from './ranges.ts';
