/**
 * Takes the README's screenshot: serves dist/, opens it in Chromium (WebGPU), loads the bundled demo
 * model through the UI and saves docs/screenshot.png. Run `npm run build` first.
 */
import { resolve } from 'node:path';
import { launch } from './chromium.ts';
import { startStaticServer } from './servers/static-server.ts';

const root = resolve(import.meta.dirname, '..');
const site = await startStaticServer([{ prefix: '/', root: resolve(root, 'dist') }]);
const browser = await launch();
try {
  const { page } = browser;
  await page.goto(site.url);
  await page.getByTestId('adapter-name').waitFor({ timeout: 60_000 });
  await page.getByTestId('model-preset').selectOption({ index: 1 });
  await page.getByTestId('model-load').click();
  await page.getByTestId('model-ready').waitFor({ timeout: 120_000 });
  const out = resolve(root, process.argv[2] ?? 'docs/screenshot.png');
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
  if (browser.errors.length) console.warn('page errors:', browser.errors);
} finally {
  await browser.close();
  await site.close();
}
