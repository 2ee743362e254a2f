/**
 * Takes the README's screenshots: serves dist/, opens it in Chromium (WebGPU) and goes through the
 * page as a user would: the bundled demo model, a tiny SAE from the test fixtures and a sample sentence
 * (Setup), a corpus tokenized and cached (Cache), the cache's features table and its strongest
 * feature's page (Features), and its features explained by the LLM stand-in (Explain). Writes
 * screenshot.png, features.png, feature-page.png and explain.png to the folder given (default docs/).
 * Run `npm run build` first.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launch } from './chromium.ts';
import { startLlmServer } from './servers/llm-server.ts';
import { startStaticServer } from './servers/static-server.ts';

const root = resolve(import.meta.dirname, '..');
const outDir = resolve(root, process.argv[2] ?? 'docs');
mkdirSync(outDir, { recursive: true });
const site = await startStaticServer([{ prefix: '/', root: resolve(root, 'dist') }]);
const llm = await startLlmServer({ keys: ['sk-or-v1-screenshot'] });
const browser = await launch();
try {
  const { page } = browser;
  const shot = async (name: string) => {
    await page.screenshot({ path: join(outDir, name), fullPage: true });
    console.log(`wrote ${join(outDir, name)}`);
  };
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
  await page.getByTestId('try-tokens').waitFor({ timeout: 60_000 });
  await shot('screenshot.png');

  await page.getByTestId('nav-cache').click();
  await page.getByTestId('corpus-file').setInputFiles(join(root, 'test/fixtures/corpus/documents.jsonl'));
  await page.getByTestId('corpus-column').waitFor();
  await page.getByTestId('corpus-ctx').fill('64');
  await page.getByTestId('corpus-prepare').click();
  await page.getByTestId('corpus-summary').waitFor({ timeout: 60_000 });
  await page.getByTestId('cache-start').click();
  await page.getByTestId('cache-list').locator('text=done').waitFor({ timeout: 300_000 });

  await page.getByTestId('cache-features-link').first().click();
  await page.getByTestId('features-row').first().waitFor({ timeout: 120_000 });
  await page.getByTestId('min-examples').fill('20');
  await shot('features.png');

  await page.getByTestId('features-row').first().click();
  await page.getByTestId('feature-top-examples').waitFor({ timeout: 60_000 });
  await page.getByTestId('feature-logits-top').waitFor({ timeout: 60_000 });
  await page.getByTestId('feature-quantile').nth(2).locator('summary').click();
  await page.getByTestId('feature-top-examples').hover({ position: { x: 5, y: 5 } });
  await shot('feature-page.png');

  await page.getByTestId('nav-explain').click();
  await page.getByTestId('explain-run').waitFor();
  await page.getByTestId('llm-base-url').fill(llm.openRouterBase);
  await page.getByTestId('llm-key').fill('sk-or-v1-screenshot');
  await page.getByTestId('llm-connect').click();
  await page.getByTestId('llm-model').waitFor();
  await page.getByTestId('explain-min-examples').fill('20');
  await page.getByTestId('explain-max-features').fill('12');
  await page.getByTestId('explain-plan').waitFor();
  await page.getByTestId('explain-start').click();
  await page.locator('[data-testid="explain-job"][data-status="done"]').waitFor({ timeout: 120_000 });
  await shot('explain.png');
  if (browser.errors.length) console.warn('page errors:', browser.errors);
} finally {
  await browser.close();
  await site.close();
  await llm.close();
}
