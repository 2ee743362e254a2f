/**
 * One runner for every stored LLM job, explain and score alike, in the app (IndexedDB) and in the
 * commands (a folder in delphi's layout): the store is a port (`JobStore`), the work a stage
 * (`JobWork`), and the runner owns everything between them, so the two places cannot drift apart:
 *
 * - what the job was made from (`JobInputs`: the model, endpoint and settings, and a digest of every
 *   unit's inputs); a rerun whose inputs differ is refused, naming what differs, and nothing is mixed;
 * - which units run: those without a result, and those whose results have calls that failed in a way
 *   worth asking again (a busy or failing server, an unreadable answer): exactly those calls are asked;
 *   an answered call is never asked twice;
 * - usage and budget over every run of the job: each call's usage goes to the store's journal as it is
 *   counted (so a kill loses none of it), and the budget counts the runs before;
 * - failures (a unit's, and calls' within stored results), checkpoints, and the end: done, stopped
 *   (key refused, no credits, budget spent; the reason kept) or paused (cancelled; rerun to go on).
 *
 * ```ts
 * const plan = await planJob(store, work);           // throws pipeline/other-inputs
 * const state = await runJob(store, work, plan, { client, budget: { maxCost: 2 }, signal });
 * ```
 */
import { AppError, describeError, errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import type { LlmClient, Pricing } from '../clients/index.ts';
import type { Progress, ProgressCallback } from '../util/index.ts';
import { featureProgressText, runFeatureStage } from './feature-stage.ts';
import { addTotals, contextLimitedClient, UsageMeter, ZERO_TOTALS, type Budget, type UsageTotals } from './usage.ts';

/** One piece of a job's work: a feature, and in a score job one of its scorers. */
export interface JobUnit {
  hook: string;
  feature: number;
  scorer?: string;
}

export const unitKey = (unit: JobUnit): string => `${unit.scorer ?? ''}\u0000${unit.hook}\u0000${unit.feature}`;
/** "blocks.6 feature 12" (with the scorer, when it has one). */
export const unitName = (unit: JobUnit): string => `${unit.hook ? `${unit.hook} ` : ''}feature ${unit.feature}${unit.scorer ? ` (${unit.scorer})` : ''}`;

/** Why a unit has no result (no `call`), or a call that failed within a stored result (`call`: its index). */
export interface UnitFailure extends JobUnit {
  kind: string;
  code: string;
  message: string;
  call?: number;
}

/**
 * What a job is made from. `shared`: named values every run must repeat (the model, the endpoint, a
 * scorer's settings); a name only one side has is no conflict (a scorer added later). `units`: each
 * unit's inputs as a digest, by `featureKey` (a record and what it is scored against).
 */
export interface JobInputs {
  shared: Record<string, string>;
  units: Record<string, string>;
}

export const featureKey = (unit: Pick<JobUnit, 'hook' | 'feature'>): string => `${unit.hook}:${unit.feature}`;

/** What a job carries from run to run. */
export interface JobLedger {
  inputs: JobInputs;
  /** Usage of every run so far (the journal's sum where the store keeps one). */
  usage: UsageTotals;
  runs: number;
  /** Units without a result because their last try failed. */
  failures: UnitFailure[];
  /** Calls that failed within stored results: their examples have no prediction. */
  callFailures: UnitFailure[];
  /** Per scorer (or stage), how results got their values over all runs (a scorer's `mode`). */
  modes: Record<string, Record<string, number>>;
}

export type JobStatus = 'running' | 'paused' | 'stopped' | 'done';

/** The job as a run leaves it (and as it saves it on the way). */
export interface JobState extends JobLedger {
  status: JobStatus;
  usageThisRun: UsageTotals;
  /** Results this run stored, by scorer ('' for explain). */
  succeeded: Record<string, number>;
  /** Units with a result before this run and nothing to ask again, by scorer. */
  skipped: Record<string, number>;
  /** Units the run was to do but did not reach (it stopped, or was stopped). */
  notDone: number;
  stopped?: { code: ErrorCode | 'cancelled' | 'unknown'; message: string };
  startedAt: string;
  finishedAt: string | null;
}

/** Where a job keeps its results and its ledger. */
export interface JobStore<R> {
  /** The ledger the last run saved; undefined for a new job. */
  ledger(): Promise<JobLedger | undefined>;
  /** Whether a unit has a stored result (a failed one does not count). */
  has(unit: JobUnit): Promise<boolean>;
  /** A unit's stored result, to complete it (its failed calls asked again). */
  result(unit: JobUnit): Promise<R | undefined>;
  /** Stores a result; `failed` ones only where the store shows failures itself (the app). */
  put(unit: JobUnit, result: R, failed: boolean): Promise<void>;
  /** Every call's usage as it is counted, before anything else is written. */
  journal(added: UsageTotals): void;
  save(state: JobState): Promise<void>;
}

/** A unit to do again: its stored result, and the calls of it to ask again. */
export interface Redo<R> {
  previous: R;
  failures: UnitFailure[];
  calls: ReadonlySet<number>;
}

/** A stage of work over units. */
export interface JobWork<I, R> {
  stage: 'explain' | 'score';
  /** "Explained", "Scored": the progress line's first word; `noun` what it counts ("features", "scores"). */
  verb: string;
  noun: string;
  units: readonly JobUnit[];
  inputs: JobInputs;
  /** A unit's inputs; an error here is the unit's failure (kind input) and the run goes on. */
  input(unit: JobUnit): Promise<I>;
  /** The unit's work with the metered client; throws only to stop the run (or when cancelled). */
  work(item: I, unit: JobUnit, client: LlmClient, signal: AbortSignal, redo?: Redo<R>): Promise<R>;
  /** Whether a result is a failure (nothing to store as a result). */
  failed(result: R): boolean;
  /** A failed result's reason; otherwise its calls that failed (each with `call`). */
  failures(result: R): { kind: string; code: string; message: string; call?: number }[];
  /** Which calls of a stored result a rerun asks again (none: the unit is done). */
  retryable?(failure: UnitFailure): boolean;
  /** How a result got its values (counted in `modes`). */
  mode?(result: R): string | undefined;
}

export interface JobPlan {
  ledger: JobLedger;
  /** Units to run, in order; those in `redo` complete a stored result. */
  todo: JobUnit[];
  redo: Map<string, UnitFailure[]>;
  skipped: JobUnit[];
}

const NEW_LEDGER = (inputs: JobInputs): JobLedger => ({ inputs, usage: { ...ZERO_TOTALS }, runs: 0, failures: [], callFailures: [], modes: {} });

/**
 * What differs between the inputs a job was made from and a rerun's, in words; undefined when nothing
 * does. Units only one side has are no conflict: a rerun may add features or leave some out.
 */
export function inputsDiffer(before: JobInputs, now: JobInputs, labels: Readonly<Record<string, string>> = {}): string | undefined {
  const shared = Object.keys(now.shared).filter((name) => name in before.shared && before.shared[name] !== now.shared[name]);
  const units = Object.keys(now.units).filter((key) => key in before.units && before.units[key] !== now.units[key]);
  const parts = shared.map((name) => `${labels[name] ?? name} (was ${before.shared[name]}, now ${now.shared[name]})`);
  if (units.length) {
    const named = units.slice(0, 3).join(', ');
    parts.push(`${labels.units ?? 'the inputs'} of ${units.length === 1 ? 'feature' : `${units.length} features`} ${named}${units.length > 3 ? ', ...' : ''} (not those the stored results were made from)`);
  }
  return parts.length ? parts.join('; ') : undefined;
}

/**
 * Reads the job's ledger and decides what this run does. Throws AppError `pipeline/other-inputs`
 * (with `differs`: what, in words) when the inputs differ from those the stored results were made from.
 */
export async function planJob<R>(store: JobStore<R>, work: Pick<JobWork<unknown, R>, 'units' | 'inputs' | 'retryable'>, labels?: Readonly<Record<string, string>>): Promise<JobPlan> {
  const before = await store.ledger();
  const differs = before && inputsDiffer(before.inputs, work.inputs, labels);
  if (differs) throw Object.assign(new AppError('pipeline/other-inputs', `The stored results were made from other inputs: ${differs}. Nothing was asked or changed.`), { differs });
  const ledger: JobLedger = before
    ? { ...before, inputs: { shared: { ...before.inputs.shared, ...work.inputs.shared }, units: { ...before.inputs.units, ...work.inputs.units } } }
    : NEW_LEDGER(work.inputs);
  const present = new Set(work.units.map(unitKey));
  const has = new Map<string, boolean>();
  for (const unit of work.units) has.set(unitKey(unit), await store.has(unit));
  const callFailures = ledger.callFailures.filter((f) => present.has(unitKey(f)) && has.get(unitKey(f)));
  const failures = ledger.failures.filter((f) => present.has(unitKey(f)) && !has.get(unitKey(f)));
  const redo = new Map<string, UnitFailure[]>();
  for (const failure of callFailures) {
    if (!work.retryable?.(failure)) continue;
    redo.set(unitKey(failure), [...(redo.get(unitKey(failure)) ?? []), failure]);
  }
  const todo = work.units.filter((unit) => !has.get(unitKey(unit)) || redo.has(unitKey(unit)));
  const skipped = work.units.filter((unit) => has.get(unitKey(unit)) && !redo.has(unitKey(unit)));
  return { ledger: { ...ledger, failures, callFailures }, todo, redo, skipped };
}

export interface JobProgress extends Progress {
  stage: 'explain' | 'score';
  /** Counts of this run. */
  succeeded: number;
  failed: number;
  inFlight: number;
  /** Units done before this run. */
  skipped: number;
  /** Every run's usage, this one's included. */
  usage: UsageTotals;
  usageThisRun: UsageTotals;
}

export interface JobControl {
  client: LlmClient;
  /** Over every run of the job. */
  budget?: Budget;
  /** The model's prices, to count calls whose answers report no cost. */
  pricing?: Pricing;
  /** The model's listed context length: longer prompts are refused before they are sent. */
  contextLength?: number;
  /** The model's id, for the message of a prompt too long. */
  model?: string;
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: ProgressCallback<JobProgress>;
  /** The state is saved at most this often during a run (default 2000 ms; always at its end). */
  checkpointMs?: number;
  /** Told when a checkpoint could not be saved (the run goes on; the end's save throws). */
  onSaveError?: (error: unknown) => void;
}

const countBy = (units: readonly JobUnit[]): Record<string, number> => units.reduce<Record<string, number>>((n, u) => ({ ...n, [u.scorer ?? '']: (n[u.scorer ?? ''] ?? 0) + 1 }), {});

/**
 * Runs a planned job to its end, a stop or a pause (the signal), storing each result as it arrives;
 * returns the state as saved last. A result the store cannot write (a full disk) stops the run like a
 * refused key does, its reason in the state; an error outside the run (a state that cannot be saved)
 * is thrown, after a last try to save the state with it.
 */
export async function runJob<I, R>(store: JobStore<R>, work: JobWork<I, R>, plan: JobPlan, control: JobControl): Promise<JobState> {
  let thisRun: UsageTotals = { ...ZERO_TOTALS };
  const meter = new UsageMeter(control.budget, control.pricing, plan.ledger.usage, (added) => {
    thisRun = addTotals(thisRun, added);
    store.journal(added);
  });
  const failures = new Map(plan.ledger.failures.map((f) => [unitKey(f), f]));
  const callFailures = new Map<string, UnitFailure[]>();
  for (const f of plan.ledger.callFailures) callFailures.set(unitKey(f), [...(callFailures.get(unitKey(f)) ?? []), f]);
  const modes = structuredClone(plan.ledger.modes);
  const succeeded: Record<string, number> = {};
  const reached = new Set<string>();
  const startedAt = new Date().toISOString();
  const state = (status: JobStatus, stopped?: JobState['stopped']): JobState => ({
    inputs: plan.ledger.inputs,
    usage: meter.totals,
    usageThisRun: { ...thisRun },
    runs: plan.ledger.runs + 1,
    failures: [...failures.values()],
    callFailures: [...callFailures.values()].flat(),
    modes,
    status,
    succeeded: { ...succeeded },
    skipped: countBy(plan.skipped),
    notDone: plan.todo.filter((unit) => !reached.has(unitKey(unit))).length,
    ...(stopped && { stopped }),
    startedAt,
    finishedAt: status === 'running' ? null : new Date().toISOString(),
  });

  let saving: Promise<void> = Promise.resolve();
  let lastSave = Date.now();
  const checkpoint = () => {
    if (Date.now() - lastSave < (control.checkpointMs ?? 2000)) return;
    lastSave = Date.now();
    const snapshot = state('running');
    saving = saving.then(() => store.save(snapshot)).catch((error: unknown) => control.onSaveError?.(error));
  };
  const end = async (status: JobStatus, stopped?: JobState['stopped']): Promise<JobState> => {
    await saving;
    const final = state(status, stopped);
    await store.save(final);
    return final;
  };
  await store.save(state('running'));

  const spent = meter.exhausted();
  if (spent && plan.todo.length > 0) return end('stopped', { code: 'llm/budget', message: `${spent} Raise the budget to go on.` });

  const unitFailed = (unit: JobUnit, failure: Omit<UnitFailure, keyof JobUnit>) => {
    const key = unitKey(unit);
    failures.set(key, { hook: unit.hook, feature: unit.feature, ...(unit.scorer !== undefined && { scorer: unit.scorer }), ...failure });
    callFailures.delete(key);
  };
  async function* items(): AsyncGenerator<{ unit: JobUnit; item: I; redo?: Redo<R> }> {
    for (const unit of plan.todo) {
      let item: I;
      let redo: Redo<R> | undefined;
      try {
        item = await work.input(unit);
        const again = plan.redo.get(unitKey(unit));
        const previous = again && (await store.result(unit));
        if (again && previous !== undefined) redo = { previous, failures: callFailures.get(unitKey(unit)) ?? [], calls: new Set(again.map((f) => f.call!)) };
      } catch (error) {
        reached.add(unitKey(unit));
        unitFailed(unit, { kind: 'input', code: errorCode(error) ?? 'records/bad-record', message: errorMessage(error) });
        checkpoint();
        continue;
      }
      yield { unit, item, ...(redo && { redo }) };
    }
  }

  const previous = plan.skipped.length;
  const total = work.units.length;
  let summary;
  try {
    summary = await runFeatureStage<{ unit: JobUnit; item: I; redo?: Redo<R> }, { unit: JobUnit; result: R }, 'explain' | 'score'>(
      items(),
      {
        stage: work.stage,
        verb: work.verb,
        feature: (entry) => entry.unit.feature,
        work: async (entry, client, signal) => ({ unit: entry.unit, result: await work.work(entry.item, entry.unit, client, signal, entry.redo) }),
        failed: (done) => work.failed(done.result),
      },
      {
        client: control.contextLength ? contextLimitedClient(control.client, control.contextLength, control.model ?? 'the model') : control.client,
        meter,
        ...(control.concurrency !== undefined && { concurrency: control.concurrency }),
        total: plan.todo.length,
        ...(control.signal && { signal: control.signal }),
        onProgress: (p) =>
          control.onProgress?.({
            ...p,
            stage: work.stage,
            done: p.done + previous,
            total,
            skipped: previous,
            usageThisRun: { ...thisRun },
            text: featureProgressText(work.verb, p.done + previous, total, { failed: p.failed, skipped: previous }, p.usage, work.noun),
          }),
        onResult: async ({ unit, result }) => {
          const key = unitKey(unit);
          reached.add(key);
          const failed = work.failed(result);
          await store.put(unit, result, failed);
          const found = work.failures(result);
          if (failed) {
            const first = found[0] ?? { kind: 'llm', code: 'llm/unknown', message: 'No result and no failure came back.' };
            unitFailed(unit, { kind: first.kind, code: first.code, message: first.message, ...(first.call !== undefined && { call: first.call }) });
          } else {
            failures.delete(key);
            const calls = found.filter((f) => f.call !== undefined).map((f) => ({ hook: unit.hook, feature: unit.feature, ...(unit.scorer !== undefined && { scorer: unit.scorer }), ...f }));
            if (calls.length) callFailures.set(key, calls);
            else callFailures.delete(key);
            succeeded[unit.scorer ?? ''] = (succeeded[unit.scorer ?? ''] ?? 0) + 1;
            const mode = work.mode?.(result);
            if (mode) (modes[unit.scorer ?? ''] ??= {})[mode] = (modes[unit.scorer ?? '']?.[mode] ?? 0) + 1;
          }
          checkpoint();
        },
      },
    );
  } catch (error) {
    if (errorCode(error) === 'cancelled') return end('paused', { code: 'cancelled', message: describeError(error) });
    await end('stopped', { code: errorCode(error) ?? 'unknown', message: describeError(error) }).catch(() => undefined);
    throw error;
  }
  return end(summary.stopped ? 'stopped' : 'done', summary.stopped);
}
