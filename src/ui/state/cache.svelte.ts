/**
 * The cache stage as the page sees it: the corpus being prepared, the cache runs stored in this browser,
 * the one running now and its progress, and the browser's storage.
 */
import * as Comlink from 'comlink';
import { checkCorpusNumbers, corpusKindOf } from '../../lib/index.ts';
import type { CacheProgress, CacheRun, ColumnListing, ListedCache, CorpusColumnsSource, CorpusOptions, CorpusSource, CorpusSummary, Progress } from '../../../workers/engine/api.ts';
import type { EngineState } from './engine.svelte.ts';
import { downloadBlob } from './download.ts';

export interface StorageInfo {
  usage: number;
  quota: number;
  persisted: boolean;
}

export class CacheState {
  caches = $state.raw<ListedCache[]>([]);
  corpus = $state.raw<CorpusSummary | undefined>();
  packing = $state.raw<Progress | undefined>();
  progress = $state.raw<CacheProgress | undefined>();
  running = $state<string | undefined>();
  /** Set while a pause or a cancel waits for the batch in hand. */
  stopping = $state<'pause' | 'cancel' | undefined>();
  private current: Promise<void> | undefined;
  /** Aborting it pauses the running cache (after the batch in hand). */
  private runSignal: AbortController | undefined;
  /** Aborting it stops the corpus preparation, export or import in progress. */
  private taskSignal: AbortController | undefined;
  /** Progress of an export or import. */
  transfer = $state.raw<Progress | undefined>();
  busy = $state(false);
  /** The cache panel's last failure: it stays until the user acts (a new action or dismissing it). */
  error = $state<string | undefined>();
  /** What the cache panel says that is not an error (e.g. an import that was already here). */
  notice = $state<string | undefined>();
  corpusError = $state<string | undefined>();
  storage = $state.raw<StorageInfo | undefined>();
  /** A stored cache that the cache about to be made would repeat (same corpus, model, SAE, settings). */
  duplicate = $state.raw<CacheRun | undefined>();

  /** Tells the other tabs of this site that the caches changed (a run started or ended, a cache deleted or imported), and hears theirs. */
  private readonly tabs = typeof BroadcastChannel === 'undefined' ? undefined : new BroadcastChannel('autointerp-caches');

  constructor(private readonly engine: EngineState) {
    if (this.tabs) this.tabs.onmessage = () => void this.refresh();
  }

  private changed(): void {
    this.tabs?.postMessage('changed');
  }

  /** Reloads the list of caches and the storage figures. It is not a user action: errors shown stay. */
  async refresh(): Promise<void> {
    try {
      this.caches = (await this.engine.api.listCaches()).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    } catch (error) {
      this.error = (error as Error).message;
    }
    await this.refreshStorage();
  }

  dismissError(): void {
    this.error = undefined;
    this.notice = undefined;
  }

  async columns(source: CorpusColumnsSource): Promise<ColumnListing | undefined> {
    let listing: ColumnListing | undefined;
    await this.task(async () => {
      listing = await this.engine.api.corpusColumns(source);
    }, 'corpus');
    return listing;
  }

  /** The kind of an uploaded corpus file by its name, as the library reads it; a file it cannot read shows why. */
  corpusKind(file: File): 'text' | 'jsonl' | 'parquet' | undefined {
    this.corpusError = undefined;
    try {
      return corpusKindOf(file.name);
    } catch (error) {
      this.corpusError = (error as Error).message;
      return undefined;
    }
  }

  /** Tokenizes and packs the corpus; numbers the form would refuse (see checkCorpusNumbers) are refused here too. */
  async prepare(source: CorpusSource, options: Omit<CorpusOptions, 'prependBos'>): Promise<void> {
    this.corpus = undefined;
    this.packing = undefined;
    const checked = checkCorpusNumbers(options, this.engine.model?.nPositions);
    if (!checked.ok) {
      this.corpusError = Object.values(checked.errors).join(' ');
      return;
    }
    await this.task(async (signal) => {
      const prependBos = this.engine.sae?.spec.prependBos ?? false;
      this.corpus = await this.engine.api.prepareCorpus(source, { ...checked.numbers, prependBos }, Comlink.proxy((progress: Progress) => (this.packing = progress)), signal);
    }, 'corpus');
  }

  /** Creates a cache from the prepared corpus and runs it. */
  /**
   * Creates a cache of the prepared corpus and runs it; when the same corpus is already cached with the
   * same model, SAE and settings, offers that cache instead (`duplicate`) unless `again` is set.
   */
  async start(again = false): Promise<void> {
    let id: string | undefined;
    this.duplicate = undefined;
    await this.task(async () => {
      const same = again ? undefined : await this.engine.api.sameCache({});
      if (same) this.duplicate = same;
      else id = (await this.engine.api.createCache({})).id;
    });
    if (id) await this.run(id);
  }

  async run(id: string): Promise<void> {
    this.running = id;
    this.stopping = undefined;
    this.progress = undefined;
    const controller = new AbortController();
    this.runSignal = controller;
    const finished = (async () => {
      await this.refreshStorage(true);
      // The other tabs learn that this one writes the cache once it holds the lock.
      setTimeout(() => this.changed(), 500);
      await this.task(async () => {
        await this.engine.api.runCache(id, {}, Comlink.proxy((progress: CacheProgress) => (this.progress = progress)), controller.signal);
      });
    })();
    this.current = finished;
    await finished;
    this.current = undefined;
    this.runSignal = undefined;
    this.running = undefined;
    this.stopping = undefined;
    await this.refresh();
    this.changed();
  }

  /** Stops the run after the batch in hand; what is stored stays, and Resume goes on from there. */
  async pause(): Promise<void> {
    this.stopping = 'pause';
    this.runSignal?.abort();
  }

  /** Stops the run and deletes the cache. */
  async cancel(): Promise<void> {
    const id = this.running;
    if (!id) return;
    this.stopping = 'cancel';
    this.runSignal?.abort();
    await this.current;
    await this.remove(id);
  }

  async remove(id: string): Promise<void> {
    await this.task(() => this.engine.api.deleteCache(id));
    await this.refresh();
    this.changed();
  }

  async exportZip(run: CacheRun): Promise<void> {
    await this.task(async (signal) => {
      const zip = await this.engine.api.exportCache(run.id, 5, Comlink.proxy((progress: Progress) => (this.transfer = progress)), signal);
      downloadBlob(zip, `${run.settings.sae.hookName}-${run.id}.zip`);
    });
  }

  async importDelphi(files: File[]): Promise<void> {
    const before = new Set(this.caches.map((run) => run.id));
    await this.task(async (signal) => {
      const runs = await this.engine.api.importDelphi(files.map((file) => ({ path: file.webkitRelativePath || file.name, blob: file })), Comlink.proxy((progress: Progress) => (this.transfer = progress)), signal);
      const already = runs.filter((run) => before.has(run.id));
      if (already.length > 0) {
        this.notice = `Already in this browser, so not imported again: ${already.map((run) => `${run.settings.sae.hookName} (${run.settings.sae.label}, from ${new Date(run.createdAt).toLocaleString()})`).join('; ')}.`;
      }
    });
    await this.refresh();
    this.changed();
  }

  /** Reads usage and quota; when a run starts, also asks the browser to keep the data (persist). */
  async refreshStorage(askToPersist = false): Promise<void> {
    const storage = navigator.storage;
    if (!storage?.estimate) return;
    const estimate = await storage.estimate();
    const persisted = askToPersist && storage.persist ? await storage.persist().catch(() => false) : ((await storage.persisted?.()) ?? false);
    this.storage = { usage: estimate.usage ?? 0, quota: estimate.quota ?? 0, persisted };
  }

  /** Runs `work`, showing its failure with the corpus panel or the cache panel. */
  /** Stops the corpus preparation, export or import in progress. */
  cancelTask(): void {
    this.taskSignal?.abort();
  }

  private async task(work: (signal: AbortSignal) => Promise<unknown>, panel: 'corpus' | 'cache' = 'cache'): Promise<void> {
    const control = new AbortController();
    this.taskSignal = control;
    this.busy = true;
    this.notice = undefined;
    if (panel === 'corpus') this.corpusError = undefined;
    else this.error = undefined;
    try {
      await work(control.signal);
    } catch (error) {
      if (panel === 'corpus') this.corpusError = (error as Error).message;
      else this.error = (error as Error).message;
    } finally {
      this.busy = false;
      this.transfer = undefined;
      if (this.taskSignal === control) this.taskSignal = undefined;
    }
  }
}
