/**
 * Every screen fits the window: the offline demo clicked through on a 360 x 800 phone, each screen
 * measured (nothing makes the page scroll sideways; tables scroll inside themselves) and photographed
 * into test-results/layout/, then the same screens on a 1920 x 1080 screen use its width.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppServers, type AppServers } from '../../scripts/servers/app-server.ts';
import { walkThrough } from '../../scripts/walkthrough.ts';
import { launch, type Browser } from './harness.ts';

const root = resolve(import.meta.dirname, '../..');
const shots = resolve(root, 'test-results/layout');
let servers: AppServers;
let browser: Browser;

beforeAll(async () => {
  servers = await startAppServers({ root: resolve(root, process.env.TEST_DIST ?? 'dist'), llmLatencyMs: 0 });
  browser = await launch();
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await servers?.close();
});

/** How far the page is wider than the window, and the text or boxes that stick out (not those inside a scrolling box). */
const overflow = (page: Page) =>
  page.evaluate(() => {
    const clipped = (node: Node) => {
      for (let a = node.parentElement; a; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return true;
      return false;
    };
    const out: string[] = [];
    for (const el of document.querySelectorAll('body *')) if (el.getBoundingClientRect().right > innerWidth + 1 && !clipped(el)) out.push(el.outerHTML.slice(0, 80));
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(n);
      if (range.getBoundingClientRect().right > innerWidth + 1 && !clipped(n)) out.push(`text "${(n.textContent ?? '').slice(0, 40)}"`);
    }
    return { extra: document.documentElement.scrollWidth - innerWidth, sticking: out.slice(0, 5) };
  });

test('on a 360 px phone no screen scrolls sideways; on 1920 px the screens use the width', async () => {
  const { page } = browser;
  await page.setViewportSize({ width: 360, height: 800 });
  await page.goto(servers.site.url);
  const measured: string[] = [];
  const wide: Record<string, string> = {};
  await walkThrough(page, {
    shot: async (name) => {
      expect(await overflow(page), name).toEqual({ extra: 0, sticking: [] });
      await page.screenshot({ path: join(shots, `360-${name}`), fullPage: true });
      measured.push(name);
      wide[name] = page.url();
    },
  });
  expect(measured).toEqual(['setup.png', 'cache.png', 'features.png', 'feature.png', 'explain.png', 'feature-scores.png', 'results.png']);

  // The same screens (from what the walk made) on a wide screen: the column grows with it.
  await page.setViewportSize({ width: 1920, height: 1080 });
  for (const [name, url] of Object.entries(wide)) {
    if (name === 'setup.png') continue; // its state (a loaded model) does not survive the reloads below
    await page.goto(url);
    await page.locator('main .screen:not([hidden])').first().waitFor();
    const main = await page.locator('main').boundingBox();
    expect(main!.width, name).toBeGreaterThan(1300);
    expect((await overflow(page)).extra, name).toBe(0);
    await page.screenshot({ path: join(shots, `1920-${name}`), fullPage: true });
  }
});
