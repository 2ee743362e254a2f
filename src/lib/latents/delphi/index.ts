/**
 * delphi's on-disk cache layout: split ranges as delphi computes them, config.json, split files
 * encoded and decoded, folders and zips read, caches exported file by file or as one zip.
 */
export * from './format.ts';
