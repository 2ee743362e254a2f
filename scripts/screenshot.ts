/**
 * Takes the README's screenshot: serves dist/, opens it in Chromium (WebGPU) and goes through the
 * page as a user would: the bundled demo model, a tiny SAE from the test fixtures, a sample sentence,
 * a corpus tokenized and cached. Saves docs/screenshot.png. Run `npm run build` first.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launch } from './chromium.ts';
import { startStaticServer } from './servers/static-server.ts';

const root = resolve(import.meta.dirname, '..');
const site = await startStaticServer([{ prefix: '/', root: resolve(root, 'dist') }]);
const browser = await launch();
try {
  const { page } = browser;
  await page.goto(site.url);
  await page.getByTestId('adapter-name').waitFor({ timeout: 60_000 });
  await page.getByTestId('model-preset').selectOption({ label: 'Tiny GPT-2 (demo, bundled with this app)' });
  await page.getByTestId('model-load').click();
  await page.getByTestId('model-ready').waitFor({ timeout: 120_000 });
  const sae = join(root, 'test/fixtures/sae/saelens-topk');
  await page.getByTestId('sae-files').setInputFiles(['cfg.json', 'sae_weights.safetensors'].map((name) => ({ name, mimeType: 'application/octet-stream', buffer: readFileSync(join(sae, name)) })));
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor({ timeout: 60_000 });
  await page.getByTestId('sample-encode').click();
  await page.getByTestId('sample-table').waitFor({ timeout: 60_000 });
  await page.getByTestId('corpus-file').setInputFiles(join(root, 'test/fixtures/corpus/documents.jsonl'));
  await page.getByTestId('corpus-column').waitFor();
  await page.getByTestId('corpus-ctx').fill('64');
  await page.getByTestId('corpus-prepare').click();
  await page.getByTestId('corpus-summary').waitFor({ timeout: 60_000 });
  await page.getByTestId('cache-start').click();
  await page.getByTestId('cache-list').locator('text=done').waitFor({ timeout: 300_000 });
  const out = resolve(root, process.argv[2] ?? 'docs/screenshot.png');
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
  if (browser.errors.length) console.warn('page errors:', browser.errors);
} finally {
  await browser.close();
  await site.close();
}
