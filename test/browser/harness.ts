/** Browser-test helpers: the shared Chromium launcher, the URLs the global setup serves, and opening the app. */
import type { Page } from 'playwright-core';
import { inject } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch as launchChromium, type Browser } from '../../scripts/chromium.ts';
import { FIXTURES, fixtureFiles } from '../support/sae-fixtures.ts';

export type { Browser };

/**
 * How long any wait of a browser test (a click, a locator's waitFor, expect.poll) may take before it
 * fails. The waits are for events (an element shown, a value reached); this is only their deadline.
 * It is long because SwiftShader compiles shaders on the CPU, and a loaded two-core machine can take
 * tens of seconds where an idle one takes two; a test's own limit (vitest.config.ts) still bounds it.
 */
export const WAIT_MS = 120_000;

/** Chromium for a test: every page of its profile waits up to WAIT_MS unless a step says otherwise. */
export async function launch(options: { profile?: string } = {}): Promise<Browser> {
  const browser = await launchChromium(options);
  browser.context.setDefaultTimeout(WAIT_MS);
  return browser;
}

export const appUrl = (params: Record<string, string> = {}): string => {
  const url = new URL(inject('appUrl'));
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.href;
};

export const hubUrl = (): string => inject('hubUrl');

/** A fixture SAE folder as files for an <input type=file> (names only, as a file picker gives them). */
export const saeUpload = (fixture: string) =>
  fixtureFiles(fixture).map((f) => ({ name: f.path.split('/').pop()!, mimeType: 'application/octet-stream', buffer: Buffer.from(f.bytes) }));

export type Screen = 'setup' | 'cache' | 'features' | 'explain' | 'results';

/** Goes to a screen through the navigation bar, as a user would, and waits until it shows. */
export async function goto(page: Page, screen: Screen): Promise<void> {
  await page.getByTestId(`nav-${screen}`).click();
  await page.getByTestId(`view-${screen}`).waitFor();
}

/**
 * Opens the page and, as a user would, loads a model through the Model panel (the tiny one from the hub
 * stand-in, or the demo one bundled with the app) and, if named, drops and uses a fixture SAE.
 */
export async function openApp(page: Page, options: { model?: 'stand-in' | 'demo' | 'none'; sae?: string } = {}): Promise<void> {
  const model = options.model ?? 'stand-in';
  await page.goto(model === 'stand-in' ? appUrl({ hub: hubUrl(), model: 'autointerp-test/tiny-gpt2' }) : appUrl());
  await page.getByTestId('adapter-name').waitFor();
  if (model === 'none') return;
  if (model === 'demo') await page.getByTestId('model-preset').selectOption({ label: 'Tiny GPT-2 (demo, bundled with this app)' });
  await page.getByTestId('model-load').click();
  await page.getByTestId('model-ready').waitFor();
  if (!options.sae) return;
  await page.getByTestId('sae-files').setInputFiles(saeUpload(options.sae));
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor();
}

/**
 * As a user would: opens the page with the stand-in model and `sae`, tokenizes the documents.jsonl
 * fixture into rows of 64 tokens (about 2000 tokens) on the Cache screen and caches it. Returns the
 * new cache's id.
 */
export async function makeCache(page: Page, sae: string): Promise<string> {
  await openApp(page, { sae });
  await goto(page, 'cache');
  await page.getByTestId('corpus-file').setInputFiles({ name: 'documents.jsonl', mimeType: 'application/json', buffer: readFileSync(join(FIXTURES, 'corpus/documents.jsonl')) });
  await page.getByTestId('corpus-column').waitFor();
  await page.getByTestId('corpus-ctx').fill('64');
  await page.getByTestId('corpus-tokens').fill('2000');
  await page.getByTestId('corpus-prepare').click();
  await page.getByTestId('corpus-summary').waitFor();
  const before: string[] = await page.evaluate(async () => (await (globalThis as any).autointerp.engine.listCaches()).map((run: { id: string }) => run.id));
  await page.getByTestId('cache-start').click();
  await page.getByTestId('cache-list').locator('text=done').waitFor();
  const after: string[] = await page.evaluate(async () => (await (globalThis as any).autointerp.engine.listCaches()).map((run: { id: string }) => run.id));
  return after.find((id) => !before.includes(id))!;
}
