/**
 * The Results screen's state: the score runs of one cache, the one shown (the newest by default) and
 * its metrics per scorer, the exports of that run, and imports of delphi's results into the cache.
 * Everything comes from the interp worker; loads started while another is under way win over it
 * (newest request wins), so a quick change of run never shows the metrics of the one before.
 */
import type * as Comlink from 'comlink';
import { errorMessage } from '../../lib/index.ts';
import type { ImportedResults, InterpApi, ScorerSummary, StoredLlmJob } from '../../../workers/interp/api.ts';
import { downloadBlob, fileNamePart } from './download.ts';

export type ResultsExport = 'delphi' | 'neuronpedia' | 'csv';

/** What the user picked to import: one zip, or the files of a folder. */
export type ResultsUpload = { zip: File } | { files: File[] };

export class ResultsState {
  /** The cache whose runs are shown. */
  runId = $state<string | undefined>();
  /** Its score runs, oldest first (imported ones included). */
  jobs = $state.raw<StoredLlmJob[]>([]);
  /** The run shown. */
  jobId = $state<string | undefined>();
  /** The shown run's metrics, scorer by scorer (with the run they are of, so a stale answer is never shown as another run's). */
  summary = $state.raw<{ jobId: string; scorers: ScorerSummary[] } | undefined>();
  loading = $state(false);
  error = $state<string | undefined>();

  importing = $state(false);
  imported = $state.raw<ImportedResults | undefined>();
  importError = $state<string | undefined>();

  exporting = $state<ResultsExport | undefined>();
  exportError = $state<string | undefined>();

  private request = 0;

  constructor(private readonly interp: Comlink.Remote<InterpApi>) {}

  /** The run shown, when there is one. */
  get job(): StoredLlmJob | undefined {
    return this.jobs.find((job) => job.id === this.jobId);
  }

  /** The shown run's scorers' metrics, once they are loaded. */
  get scorers(): ScorerSummary[] {
    return this.summary && this.summary.jobId === this.jobId ? this.summary.scorers : [];
  }

  /** Loads the cache's score runs and shows `jobId`, else the run shown before, else the newest. */
  async open(runId: string, jobId?: string): Promise<void> {
    const request = ++this.request;
    if (runId !== this.runId) {
      this.runId = runId;
      this.jobs = [];
      this.jobId = undefined;
      this.summary = undefined;
      this.imported = undefined;
      this.importError = undefined;
      this.exportError = undefined;
    }
    this.loading = true;
    this.error = undefined;
    try {
      const jobs = await this.interp.scoreJobs(runId);
      if (request !== this.request) return;
      this.jobs = jobs;
      const wanted = jobId ?? this.jobId;
      this.jobId = jobs.some((job) => job.id === wanted) ? wanted : jobs.at(-1)?.id;
      await this.loadSummary(request);
    } catch (error) {
      if (request === this.request) this.error = errorMessage(error);
    } finally {
      if (request === this.request) this.loading = false;
    }
  }

  /** Shows another score run of the cache. */
  async show(jobId: string): Promise<void> {
    const request = ++this.request;
    this.jobId = jobId;
    this.exportError = undefined;
    this.loading = true;
    this.error = undefined;
    try {
      await this.loadSummary(request);
    } catch (error) {
      if (request === this.request) this.error = errorMessage(error);
    } finally {
      if (request === this.request) this.loading = false;
    }
  }

  private async loadSummary(request: number): Promise<void> {
    const jobId = this.jobId;
    if (!jobId) return;
    const scorers = await this.interp.scoreSummary(jobId);
    if (request === this.request) this.summary = { jobId, scorers };
  }

  /**
   * Stores delphi's results as runs of the cache and shows the new score run. A refusal (another SAE's
   * features, not a zip, no delphi files) is shown as `importError` and changes nothing else.
   */
  async importResults(upload: ResultsUpload): Promise<void> {
    const runId = this.runId;
    if (!runId || this.importing) return;
    this.importing = true;
    this.importError = undefined;
    this.imported = undefined;
    try {
      const input = 'zip' in upload
        ? { name: upload.zip.name, zip: upload.zip }
        : { name: folderName(upload.files), files: upload.files.map((file) => ({ path: file.webkitRelativePath || file.name, blob: file })) };
      const imported = await this.interp.importResults(runId, input);
      if (runId !== this.runId) return;
      this.imported = imported;
      await this.open(runId, imported.scoreJob?.id);
    } catch (error) {
      if (runId === this.runId) this.importError = errorMessage(error);
    } finally {
      this.importing = false;
    }
  }

  /** delphi's layout of the shown run: the explanations it scored and its classifier scores. */
  exportDelphi(): Promise<void> {
    return this.export('delphi', (job) => {
      if (!job.sourceJobId) throw new Error('This score run names no explain run, so there are no explanations to export.');
      return { blob: this.interp.exportResults(job.sourceJobId, job.id), name: `delphi-results-${fileNamePart(job.id)}.zip` };
    });
  }

  /** The explanations the shown run scored, in Neuronpedia's upload shape. */
  exportNeuronpedia(modelId: string, source: string): Promise<void> {
    return this.export('neuronpedia', (job) => {
      if (!job.sourceJobId) throw new Error('This score run names no explain run, so there are no explanations to export.');
      return { blob: this.interp.exportNeuronpedia(job.sourceJobId, { modelId: modelId.trim(), source: source.trim() }), name: `neuronpedia-${fileNamePart(modelId)}-${fileNamePart(source)}.json` };
    });
  }

  /** One line per feature of the shown run, with each scorer's metrics. */
  exportCsv(): Promise<void> {
    return this.export('csv', (job) => ({ blob: this.interp.exportScoresCsv(job.id), name: `scores-${fileNamePart(job.id)}.csv` }));
  }

  private async export(kind: ResultsExport, make: (job: StoredLlmJob) => { blob: Promise<Blob>; name: string }): Promise<void> {
    const job = this.job;
    if (!job || this.exporting) return;
    this.exporting = kind;
    this.exportError = undefined;
    try {
      const { blob, name } = make(job);
      downloadBlob(await blob, name);
    } catch (error) {
      this.exportError = errorMessage(error);
    } finally {
      this.exporting = undefined;
    }
  }
}

/** The folder a picked folder's files are in (its name is recorded with the imported runs). */
function folderName(files: readonly File[]): string {
  const path = files.find((file) => file.webkitRelativePath)?.webkitRelativePath;
  return path ? path.split('/')[0]! : `${files.length} files`;
}
