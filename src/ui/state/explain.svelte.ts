/**
 * The explain stage as the page sees it: the LLM connection (endpoint, the user's key, models and
 * their prices), the explain jobs of a cache with their progress and results, and OpenRouter's PKCE
 * sign-in.
 *
 * The key lives here, in the page: in sessionStorage for the tab's session, in localStorage only when
 * the user asks to remember it, never in IndexedDB, never in an export. It goes to the endpoint's host
 * only: with each run to the interp worker, which sends it to that endpoint and keeps nothing.
 */
import * as Comlink from 'comlink';
import {
  authUrl, codeChallenge, createCodeVerifier, errorMessage, exchangeCode, keyInfo, listModels, MAX_EXPLANATION_CHARS, normalizeBaseUrl, OPENROUTER_API, OPENROUTER_AUTH,
  type KeyInfo, type ModelInfo,
} from '../../lib/index.ts';
import type { CostEstimate, ExplainProgress, InterpApi, LlmConnection, ScoreProgress, ScorerSummary, StoredLlmJob, StoredLlmResult } from '../../../workers/interp/api.ts';
import { downloadBlob } from './download.ts';

const KEY_STORAGE = 'autointerp.llm-key';
const ENDPOINT_STORAGE = 'autointerp.llm-endpoint';
const VERIFIER_STORAGE = 'autointerp.pkce-verifier';

/** The key the user gave, from where they chose to keep it (the tab's session, or this device). */
function storedKey(): { key: string; remembered: boolean } {
  const remembered = localStorage.getItem(KEY_STORAGE);
  if (remembered) return { key: remembered, remembered: true };
  return { key: sessionStorage.getItem(KEY_STORAGE) ?? '', remembered: false };
}

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

export class ExplainState {
  baseUrl = $state(localStorage.getItem(ENDPOINT_STORAGE) ?? OPENROUTER_API);
  key = $state(storedKey().key);
  remember = $state(storedKey().remembered);
  /** Seconds one attempt may take before it is retried (a slow local model may need more). */
  timeoutSeconds = $state(90);
  models = $state.raw<ModelInfo[]>([]);
  model = $state('');
  modelsError = $state<string | undefined>();
  keyStatus = $state.raw<KeyInfo | undefined>();
  keyError = $state<string | undefined>();
  signInError = $state<string | undefined>();

  jobs = $state.raw<StoredLlmJob[]>([]);
  results = $state.raw<StoredLlmResult[]>([]);
  /** The job whose results are shown. */
  shownJob = $state<string | undefined>();
  progress = $state.raw<Record<string, ExplainProgress | ScoreProgress>>({});
  running = $state.raw<string[]>([]);
  estimate = $state.raw<CostEstimate | undefined>();
  qualifying = $state.raw<number[] | undefined>();
  error = $state<string | undefined>();
  scoreJobs = $state.raw<StoredLlmJob[]>([]);
  /** The Explain form as the user left it. */
  form = $state<ExplainRequestForm>({ minExamples: 200, maxFeatures: 100, explainer: 'default', concurrency: 8, budget: 1, activationValues: false, maxExplanationChars: MAX_EXPLANATION_CHARS });
  /** Features picked in a cache's table for the next run (instead of every feature with enough windows). */
  picked = $state.raw<{ runId: string; features: number[] } | undefined>();
  /** Metrics of the score job shown, scorer by scorer. */
  scoreSummary = $state.raw<ScorerSummary[]>([]);
  shownScoreJob = $state<string | undefined>();
  private controls = new Map<string, AbortController>();

  constructor(private readonly interp: Comlink.Remote<InterpApi>) {}

  get pricing() {
    return this.models.find((m) => m.id === this.model)?.pricing;
  }

  /** Keeps the key where the user chose: the tab's session, or (asked for) this device. */
  saveKey(): void {
    sessionStorage.removeItem(KEY_STORAGE);
    localStorage.removeItem(KEY_STORAGE);
    if (this.key) (this.remember ? localStorage : sessionStorage).setItem(KEY_STORAGE, this.key);
    localStorage.setItem(ENDPOINT_STORAGE, this.baseUrl);
  }

  forgetKey(): void {
    this.key = '';
    this.remember = false;
    this.keyStatus = undefined;
    this.saveKey();
  }

  async connect(): Promise<void> {
    this.saveKey();
    this.modelsError = undefined;
    this.keyError = undefined;
    const options = { baseUrl: this.baseUrl, ...(this.key ? { apiKey: this.key } : {}) };
    try {
      this.models = await listModels(options);
      if (!this.models.some((m) => m.id === this.model)) this.model = this.models[0]?.id ?? '';
    } catch (error) {
      this.models = [];
      this.modelsError = errorMessage(error);
    }
    if (!this.key) return;
    try {
      this.keyStatus = await keyInfo({ baseUrl: this.baseUrl, apiKey: this.key });
    } catch (error) {
      // Plain OpenAI-compatible servers have no key endpoint: only say so when the endpoint is OpenRouter's dialect.
      this.keyStatus = undefined;
      if (/\/api\/v1$/.test(normalizeBaseUrl(this.baseUrl))) this.keyError = errorMessage(error);
    }
  }

  /** Where OpenRouter's sign-in lives for this endpoint (a stand-in serves its own). */
  private authBase(): string {
    const url = new URL(normalizeBaseUrl(this.baseUrl));
    return url.hostname === 'openrouter.ai' ? OPENROUTER_AUTH : url.origin;
  }

  /** Sends the user to sign in; they come back to this page with `?code=`. */
  async signIn(): Promise<void> {
    const verifier = createCodeVerifier();
    sessionStorage.setItem(VERIFIER_STORAGE, verifier);
    localStorage.setItem(ENDPOINT_STORAGE, this.baseUrl);
    const callback = new URL(location.href);
    callback.searchParams.delete('code');
    location.assign(authUrl(callback.href, await codeChallenge(verifier), this.authBase()));
  }

  /** Finishes a sign-in when the page was opened with `?code=`: trades it for a key, then removes it from the URL. */
  async finishSignIn(): Promise<void> {
    const url = new URL(location.href);
    const code = url.searchParams.get('code');
    const verifier = sessionStorage.getItem(VERIFIER_STORAGE);
    if (!code) return;
    url.searchParams.delete('code');
    history.replaceState(history.state, '', url.href);
    if (!verifier) {
      this.signInError = 'The sign-in came back, but this tab did not start it: sign in again from here.';
      return;
    }
    sessionStorage.removeItem(VERIFIER_STORAGE);
    try {
      this.key = (await exchangeCode(code, verifier, { baseUrl: this.baseUrl })).key;
      this.saveKey();
      await this.connect();
    } catch (error) {
      this.signInError = errorMessage(error);
    }
  }

  async refresh(runId: string): Promise<void> {
    this.jobs = await this.interp.explainJobs(runId);
    this.scoreJobs = await this.interp.scoreJobs(runId);
    if (!this.shownScoreJob || !this.scoreJobs.some((j) => j.id === this.shownScoreJob)) this.shownScoreJob = this.scoreJobs.at(-1)?.id;
    this.scoreSummary = this.shownScoreJob ? await this.interp.scoreSummary(this.shownScoreJob) : [];
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

  /** The features a run would explain (those picked in the table, else those with enough windows) and what it would cost. */
  async plan(runId: string, form: ExplainRequestForm): Promise<number[]> {
    this.error = undefined;
    try {
      const all = this.pickedFor(runId) ?? (await this.interp.qualifyingFeatures(runId, form.minExamples));
      const features = form.maxFeatures > 0 ? all.slice(0, form.maxFeatures) : all;
      this.qualifying = all;
      const pricing = this.pricing;
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
    try {
      const job = await this.interp.createExplainJob({
        cacheRunId: runId,
        baseUrl: this.baseUrl,
        model: this.model,
        explainer: form.explainer,
        settings: { activationValues: form.activationValues, maxExplanationChars: form.maxExplanationChars },
        recordOptions: { minExamples: form.minExamples },
        features,
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

  /** Runs or resumes an explain job until it ends, stops, or is paused. */
  run(jobId: string, runId: string): Promise<void> {
    return this.track(jobId, runId, (connection, onProgress, signal) => this.interp.runExplainJob(jobId, connection, onProgress, signal));
  }

  /** Runs or resumes a score job until it ends, stops, or is paused. */
  runScore(jobId: string, runId: string): Promise<void> {
    return this.track(jobId, runId, (connection, onProgress, signal) => this.interp.runScoreJob(jobId, connection, onProgress as (progress: ScoreProgress) => void, signal));
  }

  /** A run of job `jobId` in the worker, with its progress shown, pausable, and the lists refreshed when it ends. */
  private async track(
    jobId: string,
    runId: string,
    start: (connection: LlmConnection, onProgress: (progress: ExplainProgress | ScoreProgress) => void, signal: AbortSignal) => Promise<unknown>,
  ): Promise<void> {
    const control = new AbortController();
    this.controls.set(jobId, control);
    this.running = [...this.running, jobId];
    this.error = undefined;
    const pricing = this.pricing;
    try {
      await start(
        { ...(this.key ? { apiKey: this.key } : {}), ...(pricing ? { pricing } : {}), timeoutMs: this.timeoutSeconds * 1000 },
        Comlink.proxy((progress: ExplainProgress | ScoreProgress) => {
          this.progress = { ...this.progress, [jobId]: progress };
          if (this.shownJob === jobId) void this.loadResults();
        }),
        control.signal,
      );
    } catch (error) {
      this.error = errorMessage(error);
    } finally {
      this.controls.delete(jobId);
      this.running = this.running.filter((id) => id !== jobId);
      await this.refresh(runId);
    }
  }

  /** Scores the explanations of `explainJobId` with `scorers`, then runs the new job. */
  async score(runId: string, explainJobId: string, form: { scorers: string[]; logprobs: boolean; concurrency: number; budget: number }): Promise<void> {
    this.error = undefined;
    try {
      const job = await this.interp.createScoreJob({
        cacheRunId: runId,
        explainJobId,
        baseUrl: this.baseUrl,
        model: this.model,
        scorers: form.scorers,
        settings: { logprobs: form.logprobs },
        concurrency: form.concurrency,
        ...(form.budget > 0 ? { budget: { maxCost: form.budget } } : {}),
      });
      this.shownScoreJob = job.id;
      await this.refresh(runId);
      await this.runScore(job.id, runId);
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  async showScores(jobId: string): Promise<void> {
    this.shownScoreJob = jobId;
    this.scoreSummary = await this.interp.scoreSummary(jobId);
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

  pause(jobId: string): void {
    this.controls.get(jobId)?.abort();
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
