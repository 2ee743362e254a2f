/**
 * Launches Debian's Chromium with WebGPU on SwiftShader (or whatever adapter the machine has) through
 * playwright-core. Shared by the browser tests, the benchmarks and the screenshot script.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  ...(process.env.WEBGPU_ADAPTER === 'gpu' ? [] : ['--use-webgpu-adapter=swiftshader']),
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  const found = candidates.find((path): path is string => !!path && existsSync(path));
  if (!found) {
    throw new Error('No Chromium found for the browser tests. On Debian/Ubuntu: `sudo apt-get install -y chromium` (npm test does this when run as root); elsewhere set CHROMIUM_PATH.');
  }
  return found;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Every URL the page asked for (to check that nothing goes to unexpected hosts). */
  requests: string[];
  /** Console errors and uncaught page errors. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * A persistent profile (real storage quota, unlike incognito). A fresh one is removed on close; pass
 * `profile` to reuse a folder across launches (e.g. to close the browser mid-run and come back).
 */
export async function launch(options: { profile?: string } = {}): Promise<Browser> {
  const profile = options.profile ?? mkdtempSync(join(tmpdir(), 'autointerp-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return {
    context,
    page,
    requests,
    errors,
    async close() {
      await context.close();
      if (!options.profile) rmSync(profile, { recursive: true, force: true });
    },
  };
}

