/**
 * Takes the README's screenshots: serves dist/ with the demo LLM as `npm start` does, opens it in
 * Chromium (WebGPU) at 1280x800 and walks the offline demo as a user would (scripts/walkthrough.ts),
 * photographing every screen into the folder given (default docs/). Run `npm run build` first.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launch } from './chromium.ts';
import { startAppServers } from './servers/app-server.ts';
import { walkThrough } from './walkthrough.ts';

const root = resolve(import.meta.dirname, '..');
const outDir = resolve(root, process.argv[2] ?? 'docs');
mkdirSync(outDir, { recursive: true });
const servers = await startAppServers({ root: resolve(root, 'dist'), llmLatencyMs: 0 });
const browser = await launch();
try {
  const { page } = browser;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(servers.site.url);
  await walkThrough(page, {
    shot: async (name) => {
      await page.screenshot({ path: join(outDir, name), fullPage: true });
      console.log(`wrote ${join(outDir, name)}`);
    },
  });
  if (browser.errors.length) console.warn('page errors:', browser.errors);
} finally {
  await browser.close();
  await servers.close();
}
