/**
 * What a cache records about how it was made, and the rule that keeps caches from being mixed: a run
 * resumes only with the model, SAE and encoding settings it was made with.
 */
import { AppError } from '../errors.ts';
import { encodingKey, type SaeSpec } from '../sae/index.ts';
import type { CacheRun, CacheSettings } from '../storage/index.ts';
import type { RepoRef } from '../types.ts';

/** The SAE as selected for encoding: its spec (the user's settings included), name and file fingerprint. */
export interface SaeIdentity {
  spec: SaeSpec;
  label: string;
  fingerprint: string;
}

export function cacheSettings(model: Required<RepoRef>, sae: SaeIdentity, dataset: CacheSettings['dataset']): CacheSettings {
  const { spec } = sae;
  if (!spec.hookName) throw new AppError('sae/bad-config', 'The SAE has no hook point; choose one before caching.');
  return {
    model: { repo: model.repo, revision: model.revision, hubUrl: model.hubUrl },
    sae: { label: sae.label, fingerprint: sae.fingerprint, width: spec.width, hookName: spec.hookName, architecture: spec.architecture, ...(spec.k ? { k: spec.k } : {}), encoding: encodingKey(spec) },
    dataset,
  };
}

/** The settings two encodingKey() strings disagree on, as "name: was → now". */
export function settingsDiff(was: string, now: string): string {
  const a = JSON.parse(was) as Record<string, unknown>;
  const b = JSON.parse(now) as Record<string, unknown>;
  return Object.keys({ ...a, ...b })
    .filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]))
    .map((key) => `${key}: ${JSON.stringify(a[key]) ?? 'unset'} → ${JSON.stringify(b[key]) ?? 'unset'}`)
    .join(', ');
}

/** Throws `cache/mismatch`, naming what differs, unless `run` may be resumed with this model and SAE. */
export function checkResumable(run: CacheRun, model: Required<RepoRef>, sae: SaeIdentity | undefined): void {
  const made = run.settings;
  if (made.model.repo !== model.repo || made.model.revision !== model.revision) {
    throw new AppError('cache/mismatch', `This cache was made with ${made.model.repo}; load that model to resume it.`);
  }
  if (!sae || sae.fingerprint !== made.sae.fingerprint || sae.spec.hookName !== made.sae.hookName) {
    throw new AppError('cache/mismatch', `This cache was made with the SAE "${made.sae.label}" at ${made.sae.hookName}; open and select that SAE to resume it.`);
  }
  const now = encodingKey(sae.spec);
  if (made.sae.encoding !== undefined && made.sae.encoding !== now) {
    throw new AppError('cache/mismatch', `This cache was made with the SAE "${made.sae.label}" set up differently (${settingsDiff(made.sae.encoding, now)}); select it with the same settings to resume.`);
  }
}
