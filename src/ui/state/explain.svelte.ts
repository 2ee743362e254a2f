/**
 * The explain jobs of a cache as the page sees them: what a run would explain and cost, the jobs with
 * their progress and results, and the export of delphi's layout. The connection (endpoint, key, model)
 * is LlmConnectionState's; the runs in the worker are LlmRuns'.
 */
import { DEFAULT_CONCURRENCY, errorMessage, MAX_EXPLANATION_CHARS } from '../../lib/index.ts';
import type { CostEstimate, ExplainProgress, LlmConnection, StoredLlmResult } from '../../../workers/interp/api.ts';
import { downloadBlob } from './download.ts';
import { minExamplesOf, recordSettings } from './record-settings.svelte.ts';
import { LlmJobsState, type RunProgress } from './llm-runs.svelte.ts';

export interface ExplainRequestForm {
  minExamples: number;
  /** At most this many of the qualifying features (0: all). */
  maxFeatures: number;
  explainer: string;
  concurrency: number;
  /** Dollars; 0: no cap. */
  budget: number;
  activationValues: boolean;
  /** Characters an explanation may have; a longer one is the feature's failure, and scoring refuses it. */
  maxExplanationChars: number;
}

export class ExplainState extends LlmJobsState {
  results = $state.raw<StoredLlmResult[]>([]);
  estimate = $state.raw<CostEstimate | undefined>();
  qualifying = $state.raw<number[] | undefined>();
  /** When no feature qualifies: the most activating windows any feature of the cache has (what to lower the minimum to). */
  mostWindows = $state<number | undefined>();
  /** The Explain form as the user left it (its minimum of windows is the Features table's too). */
  form = $state<Omit<ExplainRequestForm, 'minExamples'>>({ maxFeatures: 100, explainer: 'default', concurrency: DEFAULT_CONCURRENCY, budget: 1, activationValues: false, maxExplanationChars: MAX_EXPLANATION_CHARS });
  /** Features picked in a cache's table for the next run (instead of every feature with enough windows). */
  picked = $state.raw<{ runId: string; features: number[] } | undefined>();

  override async refresh(runId: string): Promise<void> {
    this.jobs = await this.interp.explainJobs(runId);
    if (!this.shownJob || !this.jobs.some((j) => j.id === this.shownJob)) this.shownJob = this.jobs.at(-1)?.id;
    await this.loadResults();
  }

  async loadResults(): Promise<void> {
    this.results = this.shownJob ? await this.interp.explanations(this.shownJob) : [];
  }

  /** Runs of `runId` explain `features` (picked in its table) until the pick is cleared. */
  pick(runId: string, features: number[]): void {
    this.picked = { runId, features: [...features] };
  }

  clearPick(): void {
    this.picked = undefined;
  }

  /** The features picked in the table of `runId`, if any. */
  pickedFor(runId: string): number[] | undefined {
    return this.picked?.runId === runId ? this.picked.features : undefined;
  }

  get minExamples(): number | null {
    return recordSettings.minExamples;
  }
  set minExamples(value: number | null) {
    recordSettings.minExamples = value;
  }

  /** The form with the shared minimum, as plan and start take it. */
  request(): ExplainRequestForm {
    return { ...$state.snapshot(this.form), minExamples: minExamplesOf(this.minExamples) };
  }

  /** The features a run would explain (those picked in the table, else those with enough windows) and what it would cost. */
  async plan(runId: string, form: ExplainRequestForm): Promise<number[]> {
    this.error = undefined;
    try {
      const all = this.pickedFor(runId) ?? (await this.interp.qualifyingFeatures(runId, form.minExamples));
      this.mostWindows = all.length === 0 && !this.pickedFor(runId) ? await this.interp.mostWindows(runId) : undefined;
      const features = form.maxFeatures > 0 ? all.slice(0, form.maxFeatures) : all;
      this.qualifying = all;
      const pricing = this.connection.pricing;
      this.estimate = features.length
        ? await this.interp.explainEstimate(runId, { features, explainer: form.explainer, settings: { activationValues: form.activationValues }, recordOptions: { minExamples: form.minExamples }, ...(pricing ? { pricing } : {}) })
        : undefined;
      return features;
    } catch (error) {
      this.error = errorMessage(error);
      return [];
    }
  }

  async start(runId: string, form: ExplainRequestForm): Promise<void> {
    const features = await this.plan(runId, form);
    if (this.error) return;
    await this.createAndRun(runId, () =>
      this.interp.createExplainJob({
        cacheRunId: runId,
        baseUrl: this.connection.baseUrl,
        model: this.connection.model,
        explainer: form.explainer,
        settings: { activationValues: form.activationValues, maxExplanationChars: form.maxExplanationChars },
        recordOptions: { minExamples: form.minExamples },
        features,
        concurrency: form.concurrency,
        ...(form.budget > 0 ? { budget: { maxCost: form.budget } } : {}),
      }),
    );
  }

  protected override runInWorker(jobId: string, connection: LlmConnection, onProgress: (progress: RunProgress) => void, signal: AbortSignal): Promise<unknown> {
    return this.interp.runExplainJob(jobId, connection, onProgress as (progress: ExplainProgress) => void, signal);
  }

  protected override progressed(jobId: string): void {
    if (this.shownJob === jobId) void this.loadResults();
  }

  /** Saves delphi's layout (explanations and the score job's scores) as a zip the browser downloads. */
  async exportZip(explainJobId: string, scoreJobId?: string): Promise<void> {
    try {
      const zip = await this.interp.exportResults(explainJobId, scoreJobId);
      downloadBlob(zip, `autointerp-results-${explainJobId}.zip`);
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  async remove(jobId: string, runId: string): Promise<void> {
    try {
      await this.interp.deleteJob(jobId);
    } catch (error) {
      this.error = errorMessage(error);
    }
    await this.refresh(runId);
  }
}
