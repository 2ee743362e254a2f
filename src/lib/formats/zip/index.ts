/** Store-only zip: a streaming writer (ZIP64 when needed) and a reader of any zip's stored or deflated entries. */
export * from './zip.ts';
