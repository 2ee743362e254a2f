import type { CacheRun } from '../../../../workers/interp/api.ts';

/** What a cache is, in one line's parts: its hook, its SAE's label (without the hook it repeats), the model and the corpus. */
export function cacheLabel(run: CacheRun): { hook: string; sae: string; model: string; corpus: string } {
  const hook = run.settings.sae.hookName;
  const sae = run.settings.sae.label.split(' · ').filter((part) => part !== hook).join(' · ');
  return { hook, sae, model: run.settings.model.repo, corpus: run.settings.dataset.description };
}
