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
import type { CacheRun, FeaturePageView, FeatureScoreColumns, FeatureTable, InterpApi, Progress } from '../../../workers/interp/api.ts';
import { PolicyWorker } from '../content-security-policy.ts';
import type { EngineState } from './engine.svelte.ts';
import { minExamplesOf, recordSettings } from './record-settings.svelte.ts';
import { countQualifying, explanationColumn, filterFeatures, sortFeatures, type ExplanationColumn, type FeatureColumns, type FeatureFilter, type SortDirection, type SortKey } from './feature-order.ts';

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

/** The table's filters as the filter bar edits them (numbers left empty are null: that bound is open). */
export interface TableFilters {
  /** Leave out features that never fire. */
  hideDead: boolean;
  /** Show only the features that would be explained (at least minExamples windows). */
  onlyQualifying: boolean;
  /** Density bounds in percent of the tokens. */
  minDensity: number | null;
  maxDensity: number | null;
  explained: 'any' | 'yes' | 'no';
  /** The scorer whose score range applies; undefined (or one the table lacks): the table's first. */
  scorer: string | undefined;
  minScore: number | null;
  maxScore: number | null;
  /** Searched in the explanations, case-insensitively. */
  search: string;
}

const NO_FILTERS: Readonly<TableFilters> = Object.freeze({
  hideDead: false, onlyQualifying: false, minDensity: null, maxDensity: null, explained: 'any', scorer: undefined, minScore: null, maxScore: null, search: '',
});

const finiteOrUndefined = (value: number | null): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

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
  private filters = $state<TableFilters>({ ...NO_FILTERS });
  /** The filters as set (change them with setFilter). */
  get filter(): Readonly<TableFilters> {
    return this.filters;
  }
  /** Whether any filter is set (the scorer chosen for a range is none on its own). */
  readonly filtered = $derived(Object.entries(NO_FILTERS).some(([key, value]) => key !== 'scorer' && this.filters[key as keyof TableFilters] !== value));
  /** delphi's min_examples: features with fewer activating windows are not explained (shared with the Explain form). */
  get minExamples(): number | null {
    return recordSettings.minExamples;
  }
  set minExamples(value: number | null) {
    recordSettings.minExamples = value;
  }
  /** Where the table was scrolled to, so that coming back from a feature page finds the same rows. */
  scrollTop = $state(0);

  /**
   * Each feature's newest explanation and score per scorer, over the cache's explain and score runs
   * (loaded whenever a table opens: runs may have been made since). For the table shown only.
   */
  scores = $state.raw<FeatureScoreColumns | undefined>();
  /** Why the scores could not be read; the table shows without them. */
  scoresError = $state<string | undefined>();
  private scoresRequest = 0;
  /** The score columns of the table on screen, in the order detection, fuzzing, simulation. */
  readonly scoreColumns = $derived(this.scores && this.scores.runId === this.table?.runId ? this.scores.scores : []);
  readonly explanations = $derived<Readonly<Record<number, string>>>(this.scores && this.scores.runId === this.table?.runId ? this.scores.explanations : {});
  private readonly explained = $derived<ExplanationColumn | undefined>(this.table ? explanationColumn(this.explanations, this.table.width) : undefined);
  /** The scorer the score range applies to: the one chosen, or the table's first. */
  readonly rangeScorer = $derived(this.scoreColumns.find((column) => column.scorer === this.filters.scorer)?.scorer ?? this.scoreColumns[0]?.scorer);

  /** Everything the order reads: the statistics, the score columns, the explanations. */
  private readonly columns = $derived<FeatureColumns | undefined>(this.table ? { ...this.table, scores: this.scoreColumns, ...(this.explained ? { explained: this.explained } : {}) } : undefined);
  /** The features passing the filters, in index order: a new sort does not filter again. */
  private readonly passing = $derived.by(() => {
    const columns = this.columns;
    if (!columns) return new Uint32Array(0);
    const f = this.filters;
    const percent = (value: number | null) => (finiteOrUndefined(value) === undefined ? undefined : value! / 100);
    const filter: FeatureFilter = {
      hideDead: f.hideDead,
      minWindows: f.onlyQualifying ? this.minExamplesValue : 0,
      density: { min: percent(f.minDensity), max: percent(f.maxDensity) },
      search: f.search,
      ...(f.explained === 'any' ? {} : { explained: f.explained === 'yes' }),
      ...(this.rangeScorer ? { score: { scorer: this.rangeScorer, min: finiteOrUndefined(f.minScore), max: finiteOrUndefined(f.maxScore) } } : {}),
    };
    return filterFeatures(columns, filter);
  });
  /** Feature indices in table order, after the filters. */
  readonly order = $derived(this.columns ? sortFeatures(this.columns, this.passing, this.sortKey, this.sortDirection) : new Uint32Array(0));
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
    return minExamplesOf(this.minExamples);
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

  /** Changes one filter; the table goes back to its top (the rows there are others now). */
  setFilter<K extends keyof TableFilters>(key: K, value: TableFilters[K]): void {
    this.filters[key] = value;
    this.scrollTop = 0;
  }

  /** Clears every filter. */
  resetFilters(): void {
    this.filters = { ...NO_FILTERS };
    this.scrollTop = 0;
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
    void this.loadScores(runId);
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

  /** Reads the explanations and scores of `runId`'s features (the newest request wins). */
  private async loadScores(runId: string): Promise<void> {
    const request = ++this.scoresRequest;
    if (this.scores?.runId !== runId) this.scores = undefined;
    this.scoresError = undefined;
    try {
      const scores = await this.api.featureScores(runId);
      if (request === this.scoresRequest) this.scores = scores;
    } catch (error) {
      if (request === this.scoresRequest) this.scoresError = `The explanations and scores could not be read: ${errorMessage(error)}`;
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
