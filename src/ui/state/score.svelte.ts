/**
 * The score jobs of a cache as the page sees them: a job scores the explanations of one explain job,
 * runs in the worker (LlmRuns), and its metrics are shown scorer by scorer (the aggregation metrics.json
 * uses too). The connection (endpoint, key, model) is LlmConnectionState's.
 */
import { errorMessage } from '../../lib/index.ts';
import type { CostEstimate, LlmConnection, ScoreProgress, ScorerSummary } from '../../../workers/interp/api.ts';
import { LlmJobsState, type RunProgress } from './llm-runs.svelte.ts';

export interface ScoreRequestForm {
  scorers: string[];
  logprobs: boolean;
  concurrency: number;
  /** Dollars; 0: no cap. */
  budget: number;
}

export class ScoreState extends LlmJobsState {
  /** The metrics of the job shown, scorer by scorer. */
  summary = $state.raw<ScorerSummary[]>([]);
  /** What scoring an explain run (`for`) would take, for the card to show before Score starts. */
  estimate = $state.raw<(CostEstimate & { for: string }) | undefined>();

  /** Estimates scoring the explanations of `explainJobId` with the form's scorers (at the model's prices). */
  async plan(explainJobId: string, form: Pick<ScoreRequestForm, 'scorers' | 'logprobs'>): Promise<void> {
    try {
      const pricing = this.connection.pricing;
      const estimate = await this.interp.scoreEstimate({ explainJobId, scorers: form.scorers, settings: { logprobs: form.logprobs }, ...(pricing ? { pricing } : {}) });
      this.estimate = { ...estimate, for: explainJobId };
    } catch (error) {
      this.estimate = undefined;
      this.error = errorMessage(error);
    }
  }

  override async refresh(runId: string): Promise<void> {
    this.jobs = await this.interp.scoreJobs(runId);
    if (!this.shownJob || !this.jobs.some((j) => j.id === this.shownJob)) this.shownJob = this.jobs.at(-1)?.id;
    this.summary = this.shownJob ? await this.interp.scoreSummary(this.shownJob) : [];
  }

  /** Scores the explanations of `explainJobId` with the form's scorers, then runs the new job. */
  async score(runId: string, explainJobId: string, form: ScoreRequestForm): Promise<void> {
    this.error = undefined;
    await this.createAndRun(runId, () =>
      this.interp.createScoreJob({
        cacheRunId: runId,
        explainJobId,
        baseUrl: this.connection.baseUrl,
        model: this.connection.model,
        scorers: form.scorers,
        settings: { logprobs: form.logprobs },
        concurrency: form.concurrency,
        ...(form.budget > 0 ? { budget: { maxCost: form.budget } } : {}),
      }),
    );
  }

  protected override runInWorker(jobId: string, connection: LlmConnection, onProgress: (progress: RunProgress) => void, signal: AbortSignal): Promise<unknown> {
    return this.interp.runScoreJob(jobId, connection, onProgress as (progress: ScoreProgress) => void, signal);
  }

  async show(jobId: string): Promise<void> {
    this.shownJob = jobId;
    this.summary = await this.interp.scoreSummary(jobId);
  }
}
