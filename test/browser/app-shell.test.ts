import { afterAll, beforeAll, expect, test } from 'vitest';
import { appUrl, launch, type Browser } from './harness.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

test('the page shows the WebGPU adapter the engine worker got', async () => {
  const { page } = browser;
  await page.goto(appUrl());
  const name = page.getByTestId('adapter-name');
  await name.waitFor();
  // Chromium here runs WebGPU on SwiftShader; the label must name the real adapter, not a placeholder.
  expect((await name.textContent())?.toLowerCase()).toContain('swiftshader');
  await expect(page.getByTestId('adapter-missing').count()).resolves.toBe(0);
  // The worker reports the adapter's real limits (SwiftShader grants far more than 1 MiB).
  const status = await page.evaluate(() => (globalThis as any).autointerp.engine.webgpu());
  expect(status.available).toBe(true);
  expect(status.limits.maxBufferSize).toBeGreaterThan(2 ** 20);
  expect(browser.errors).toEqual([]);
});

test('a browser without WebGPU gets a clear message and advice', async () => {
  const page = await browser.context.newPage();
  // Hide navigator.gpu before any script runs, in the page and in its workers.
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
  });
  await page.route('**/assets/engine.worker-*.js', async (route) => {
    const response = await route.fetch();
    const body = `Object.defineProperty(WorkerNavigator.prototype, 'gpu', { get: () => undefined });\n${await response.text()}`;
    await route.fulfill({ response, body });
  });
  await page.goto(appUrl());
  const missing = page.getByTestId('adapter-missing');
  await missing.waitFor();
  expect(await missing.textContent()).toContain('no WebGPU');
  expect(await page.getByTestId('adapter').textContent()).toContain('Chrome or Edge');
  expect(await page.getByTestId('model-load').isDisabled()).toBe(true);
  await page.close();
});
