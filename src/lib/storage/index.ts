/**
 * The browser's storage (IndexedDB) for activation caches: the schema, the stored shard layout, and
 * every read and write, each mapped to a named error (a full disk says so and loses nothing).
 */
export * from './cache-layout.ts';
export * from './cache-store.ts';
