/**
 * Load once, forget on failure: a promise per key, made by the first caller and shared with the next
 * ones; a load that fails is forgotten, so the next call tries again (a network blip does not stick).
 *
 * ```ts
 * const tokenizers = new LoadOnce<string, TextTokenizer>();
 * const tokenizer = await tokenizers.get(repo, () => loadTokenizer(repo));
 * ```
 */
export class LoadOnce<K, V> {
  readonly #loads = new Map<K, Promise<V>>();

  get(key: K, load: () => Promise<V>): Promise<V> {
    let loading = this.#loads.get(key);
    if (!loading) {
      loading = load();
      this.#loads.set(key, loading);
      loading.catch(() => {
        if (this.#loads.get(key) === loading) this.#loads.delete(key);
      });
    }
    return loading;
  }

  /** Drops one key (or every one): the next `get` loads again. */
  forget(key?: K): void {
    if (key === undefined) this.#loads.clear();
    else this.#loads.delete(key);
  }
}
