/** Browser-test helpers: the shared Chromium launcher plus the URLs the global setup serves. */
import { inject } from 'vitest';

export { launch, type Browser } from '../../scripts/chromium.ts';

export const appUrl = (params: Record<string, string> = {}): string => {
  const url = new URL(inject('appUrl'));
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.href;
};

export const hubUrl = (): string => inject('hubUrl');
