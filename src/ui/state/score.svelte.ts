/**
 * The score jobs of a cache as the page sees them: a job scores the explanations of one explain job,
 * runs in the worker (LlmRuns), and its metrics are shown scorer by scorer (the aggregation metrics.json
 * uses too). The connection (endpoint, key, model) is LlmConnectionState's.
 */
import type * as Comlink from 'comlink';
import { errorMessage } from '../../lib/index.ts';
import type { InterpApi, ScoreProgress, ScorerSummary, StoredLlmJob } from '../../../workers/interp/api.ts';
import type { LlmConnectionState } from './llm-connection.svelte.ts';
import type { LlmRuns } from './llm-runs.svelte.ts';

export interface ScoreRequestForm {
  scorers: string[];
  logprobs: boolean;
  concurrency: number;
  /** Dollars; 0: no cap. */
  budget: number;
}

export class ScoreState {
  jobs = $state.raw<StoredLlmJob[]>([]);
  /** The job whose metrics are shown, and those metrics, scorer by scorer. */
  shownJob = $state<string | undefined>();
  summary = $state.raw<ScorerSummary[]>([]);
  error = $state<string | undefined>();

  constructor(
    private readonly interp: Comlink.Remote<InterpApi>,
    readonly connection: LlmConnectionState,
    readonly runs: LlmRuns,
  ) {}

  async refresh(runId: string): Promise<void> {
    this.jobs = await this.interp.scoreJobs(runId);
    if (!this.shownJob || !this.jobs.some((j) => j.id === this.shownJob)) this.shownJob = this.jobs.at(-1)?.id;
    this.summary = this.shownJob ? await this.interp.scoreSummary(this.shownJob) : [];
  }

  /** Scores the explanations of `explainJobId` with the form's scorers, then runs the new job. */
  async score(runId: string, explainJobId: string, form: ScoreRequestForm): Promise<void> {
    this.error = undefined;
    try {
      const job = await this.interp.createScoreJob({
        cacheRunId: runId,
        explainJobId,
        baseUrl: this.connection.baseUrl,
        model: this.connection.model,
        scorers: form.scorers,
        settings: { logprobs: form.logprobs },
        concurrency: form.concurrency,
        ...(form.budget > 0 ? { budget: { maxCost: form.budget } } : {}),
      });
      this.shownJob = job.id;
      await this.refresh(runId);
      await this.run(job.id, runId);
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** Runs or resumes a score job until it ends, stops, or is paused. */
  async run(jobId: string, runId: string): Promise<void> {
    this.error = undefined;
    const failed = await this.runs.track(jobId, this.connection.forRun(), (connection, onProgress, signal) => this.interp.runScoreJob(jobId, connection, onProgress as (progress: ScoreProgress) => void, signal));
    if (failed) this.error = failed;
    await this.refresh(runId);
  }

  async show(jobId: string): Promise<void> {
    this.shownJob = jobId;
    this.summary = await this.interp.scoreSummary(jobId);
  }
}
