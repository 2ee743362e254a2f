/**
 * The features stage as the page sees it: owns the interp worker (feature statistics and pages, off the
 * page's thread and off the GPU worker), the features table of one cache with its order and filters, and
 * the feature page on screen with its logit effects and similar features (from the engine, when the
 * selected SAE is the cache's). Published as `window.autointerp.interp` for the tests and the console.
 *
 * Every load is "newest request wins": a response that arrives after the user moved on is dropped.
 */
import * as Comlink from 'comlink';
import { errorCode, errorMessage, type WindowKind } from '../../lib/index.ts';
import { registerTransferHandlers } from '../../../workers/comlink-handlers.ts';
import type { FeatureDirections } from '../../../workers/engine/api.ts';
import type { CacheRun, FeaturePageView, FeatureTable, InterpApi, Progress } from '../../../workers/interp/api.ts';
import { PolicyWorker } from '../content-security-policy.ts';
import type { EngineState } from './engine.svelte.ts';
import { countQualifying, featureOrder, type SortDirection, type SortKey } from './feature-order.ts';

/** Logit effects and similar features of the feature on screen, or why there are none. */
export type DirectionsState =
  | { status: 'loading' }
  /** The SAE selected in Setup is not the cache's (or none is): the page says how to get them. */
  | { status: 'needs-sae'; message: string }
  | { status: 'ready'; value: FeatureDirections }
  | { status: 'error'; message: string };

export interface RecordSettings {
  /** Tokens per example window; must divide the cache's rows. */
  exampleCtx?: number;
  windows: WindowKind;
}

/** How many tokens each list of logit effects shows, and how many similar features. */
const DIRECTIONS_K = 10;

export class FeaturesState {
  readonly api: Comlink.Remote<InterpApi>;
  /** The caches in this browser, as the interp worker reads them (refreshed when a table or a page opens). */
  runs = $state.raw<CacheRun[]>([]);

  // The table.
  table = $state.raw<FeatureTable | undefined>();
  /** The cache whose table is shown or loading. */
  tableRunId = $state<string | undefined>();
  tableProgress = $state.raw<Progress | undefined>();
  tableBusy = $state(false);
  /** Why the table could not be shown; it stays until the table is opened again. */
  tableError = $state<string | undefined>();
  private tableRequest = 0;
  private tableControl: AbortController | undefined;
  private tableTask: Promise<unknown> | undefined;

  sortKey = $state<SortKey>('max');
  sortDirection = $state<SortDirection>('desc');
  /** Leave out features that never fire. */
  get hideDead(): boolean {
    return this.filters.hideDead;
  }
  set hideDead(value: boolean) {
    this.filters.hideDead = value;
    this.scrollTop = 0;
  }
  /** Show only the features that would be explained (at least minExamples windows). */
  get onlyQualifying(): boolean {
    return this.filters.onlyQualifying;
  }
  set onlyQualifying(value: boolean) {
    this.filters.onlyQualifying = value;
    this.scrollTop = 0;
  }
  private filters = $state({ hideDead: false, onlyQualifying: false });
  /** delphi's min_examples: features with fewer activating windows are not explained. */
  minExamples = $state<number | null>(200);
  /** Where the table was scrolled to, so that coming back from a feature page finds the same rows. */
  scrollTop = $state(0);

  /** Feature indices in table order, after the filters. */
  readonly order = $derived.by(() => {
    const table = this.table;
    if (!table) return new Uint32Array(0);
    return featureOrder(table, this.sortKey, this.sortDirection, { hideDead: this.hideDead, minWindows: this.onlyQualifying ? this.minExamplesValue : 0 });
  });
  readonly qualifying = $derived(this.table ? countQualifying(this.table, this.minExamplesValue) : 0);

  // The feature page.
  page = $state.raw<FeaturePageView | undefined>();
  pageBusy = $state(false);
  pageError = $state<string | undefined>();
  private pageRequest = 0;
  /** Record settings chosen per cache (a cache without: the worker's defaults for it). */
  private recordSettings = $state<Record<string, RecordSettings>>({});
  directions = $state.raw<DirectionsState | undefined>();
  private directionsRequest = 0;

  constructor(private readonly engine: EngineState) {
    registerTransferHandlers();
    // Started from a blob: module, as the engine worker is, so that it runs under the page's policy.
    const Worker = PolicyWorker;
    const worker = new Worker(new URL('../../../workers/interp/interp.worker.ts', import.meta.url), { type: 'module', name: 'interp' });
    this.api = Comlink.wrap<InterpApi>(worker);
    // Caches naming no hub (delphi imports) take their tokenizer from the hub the page was pointed at.
    const hub = new URLSearchParams(location.search).get('hub');
    if (hub) void this.api.useHub(hub);
  }

  get minExamplesValue(): number {
    const value = this.minExamples;
    return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
  }

  runOf(runId: string | undefined): CacheRun | undefined {
    return runId === undefined ? undefined : this.runs.find((run) => run.id === runId);
  }

  async refreshRuns(): Promise<void> {
    try {
      this.runs = (await this.api.listCaches()).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    } catch {
      // The table or page that asked shows its own error.
    }
  }

  /** Sorts by `key`: a second click on the same column reverses the order. */
  sortBy(key: SortKey): void {
    if (this.sortKey === key) this.sortDirection = this.sortDirection === 'asc' ? 'desc' : 'asc';
    else {
      this.sortKey = key;
      this.sortDirection = key === 'index' ? 'asc' : 'desc';
    }
    this.scrollTop = 0;
  }

  /**
   * Shows the table of `runId`: its stored statistics, computed first (with progress) when there are none
   * or the run has grown since. A table already shown for the run stays when its statistics are current.
   */
  async openTable(runId: string, options: { force?: boolean } = {}): Promise<void> {
    const request = ++this.tableRequest;
    void this.refreshRuns();
    if (this.tableRunId !== runId) this.scrollTop = 0;
    this.tableRunId = runId;
    this.tableError = undefined;
    if (!options.force && this.table?.runId === runId) {
      const current = await this.api.hasCurrentStats(runId).catch(() => false);
      if (current || request !== this.tableRequest) return;
    }
    if (this.table?.runId !== runId) this.table = undefined;
    this.tableProgress = undefined;
    // The Cancel button shows from here on, so the controller must exist from here on too.
    const control = new AbortController();
    this.tableControl = control;
    this.tableBusy = true;
    try {
      // A pass that was cancelled may still be winding down in the worker: let it end before asking again.
      await this.tableTask?.catch(() => undefined);
      if (request !== this.tableRequest) return;
      const task = this.api.featureTable(runId, Comlink.proxy((progress: Progress) => {
        if (request === this.tableRequest) this.tableProgress = progress;
      }), control.signal);
      this.tableTask = task;
      const table = await task;
      if (request === this.tableRequest) this.table = table;
    } catch (error) {
      if (request === this.tableRequest) {
        this.tableError = errorCode(error) === 'cancelled' ? 'Stopped: the feature statistics were not computed, and nothing was stored. Try again to compute them.' : errorMessage(error);
      }
    } finally {
      if (request === this.tableRequest) {
        this.tableBusy = false;
        this.tableProgress = undefined;
      }
      if (this.tableControl === control) this.tableControl = undefined;
    }
  }

  /** Stops the statistics pass in progress (nothing is stored; opening the table again starts over). */
  cancelTable(): void {
    this.tableControl?.abort();
  }

  /** The record settings of a cache's pages (exampleCtx undefined: the worker's default for its rows). */
  settingsOf(runId: string): RecordSettings {
    return this.recordSettings[runId] ?? { windows: 'grid' };
  }

  /** Changes the record settings of a cache's pages (the page on screen loads again). */
  setSettings(runId: string, settings: Partial<RecordSettings>): void {
    this.recordSettings[runId] = { ...this.settingsOf(runId), ...settings };
  }

  /** Loads the page of `feature` with the cache's record settings. */
  async openFeature(runId: string, feature: number): Promise<void> {
    const request = ++this.pageRequest;
    const { exampleCtx, windows } = $state.snapshot(this.settingsOf(runId));
    const options = { windows, ...(exampleCtx !== undefined ? { exampleCtx } : {}) };
    this.pageBusy = true;
    this.pageError = undefined;
    if (this.page && (this.page.runId !== runId || this.page.feature !== feature)) this.page = undefined;
    if (!this.runOf(runId)) await this.refreshRuns();
    try {
      const page = await this.api.featurePage(runId, feature, options);
      if (request === this.pageRequest) this.page = page;
    } catch (error) {
      if (request === this.pageRequest) {
        this.page = undefined;
        this.pageError = errorMessage(error);
      }
    } finally {
      if (request === this.pageRequest) this.pageBusy = false;
    }
  }

  /**
   * Logit effects and similar features of `feature`, from the engine: only when the SAE selected in
   * Setup is the one the cache was made with (the engine would refuse any other).
   */
  async loadDirections(run: CacheRun | undefined, feature: number): Promise<void> {
    const request = ++this.directionsRequest;
    if (!run) {
      this.directions = undefined;
      return;
    }
    const wanted = run.settings.sae.fingerprint;
    if (this.engine.sae?.fingerprint !== wanted) {
      this.directions = { status: 'needs-sae', message: needsSae(run) };
      return;
    }
    this.directions = { status: 'loading' };
    try {
      const value = await this.engine.api.featureDirections(wanted, feature, DIRECTIONS_K);
      if (request === this.directionsRequest) this.directions = { status: 'ready', value };
    } catch (error) {
      if (request !== this.directionsRequest) return;
      this.directions = errorCode(error) === 'sae/not-ready' ? { status: 'needs-sae', message: needsSae(run) } : { status: 'error', message: errorMessage(error) };
    }
  }
}

const needsSae = (run: CacheRun) =>
  `Logit effects and similar features come from the SAE's decoder: load ${run.settings.model.repo} and use the SAE "${run.settings.sae.label}" (the one this cache was made with) in Setup to see them.`;
