/**
 * The browser's storage (IndexedDB) for activation caches: the schema, the stored shard layout, the
 * per-feature statistics kept with each cache, and every read and write, each mapped to a named error
 * (a full disk says so and loses nothing).
 */
export * from './cache-layout.ts';
export * from './cache-store.ts';
export * from './stats-layout.ts';
export * from './stats-store.ts';
export * from './llm-jobs-layout.ts';
export * from './llm-jobs-store.ts';
