/**
 * Explaining features from the page over real HTTP against the stand-in LLM server: every qualifying
 * feature of a cache made in the page; a run with 30% injected faults that still ends every feature
 * with exact token and cost totals; a reload mid-run that resumes without asking again about a
 * finished feature; OpenRouter's PKCE sign-in; and a log of every request the page (and its workers)
 * makes, which shows the key going to the API's host only and nowhere into storage or an export.
 */
import type { Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { startLlmServer, type LlmServer } from '../../scripts/servers/llm-server.ts';
import { readDelphiResultsZip } from '../../src/lib/index.ts';
import { goto, launch, makeCache, type Browser } from './harness.ts';

const KEY = 'sk-or-v1-browser-test-9d27c4';
let browser: Browser;
let llm: LlmServer;
let runId = '';
const seen: { url: string; headers: Record<string, string>; body: string }[] = [];

beforeAll(async () => {
  llm = await startLlmServer({ keys: [KEY], retryAfterSeconds: 0 });
  browser = await launch();
  // The context sees the requests of the page and of its workers.
  browser.page.context().on('request', (request: Request) => seen.push({ url: request.url(), headers: request.headers(), body: request.postData() ?? '' }));
});
afterAll(async () => {
  await browser?.close();
  await llm?.close();
});
// The stand-in's faults belong to the test that sets them, even one that failed half-way.
afterEach(() => llm.setFaults(undefined));

const chats = (from: number) => llm.requests.slice(from).filter((r) => r.method === 'POST' && r.path.endsWith('/chat/completions'));
const interp = <T>(page: Page, fn: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(({ fn, args }) => (globalThis as any).autointerp.interp[fn](...args), { fn, args }) as Promise<T>;

/** Connects the Explain screen to the stand-in with the key, and waits for its models. */
async function connect(page: Page): Promise<void> {
  await page.getByTestId('llm-base-url').fill(llm.openRouterBase);
  await page.getByTestId('llm-key').fill(KEY);
  // The stand-in's time-out fault holds a request until the client gives up: a short limit keeps the test short.
  await page.getByTestId('llm-timeout').fill('5');
  await page.getByTestId('llm-connect').click();
  await page.getByTestId('llm-model').waitFor();
  await page.getByTestId('llm-model').selectOption('stand-in/explainer');
}

/** Starts a run over every feature with at least `min` windows; returns the new job's id once it exists. */
async function startRun(page: Page, options: { min: number; concurrency: number; maxChars?: number }): Promise<string> {
  const before = (await interp<any[]>(page, 'explainJobs', runId)).length;
  await page.getByTestId('explain-min-examples').fill(String(options.min));
  if (options.maxChars !== undefined) await page.getByTestId('explain-max-chars').fill(String(options.maxChars));
  await page.getByTestId('explain-max-features').fill('0');
  await page.getByTestId('explain-concurrency').fill(String(options.concurrency));
  await page.getByTestId('explain-budget').fill('0');
  await expect.poll(() => page.getByTestId('explain-plan').textContent()).toMatch(/prompt tokens a feature;\s+about \$/);
  await page.getByTestId('explain-start').click();
  await expect.poll(async () => (await interp<any[]>(page, 'explainJobs', runId)).length).toBe(before + 1);
  return (await lastJob(page)).id;
}

const lastJob = async (page: Page) => (await interp<any[]>(page, 'explainJobs', runId)).at(-1);
const jobById = async (page: Page, id: string) => (await interp<any[]>(page, 'explainJobs', runId)).find((job) => job.id === id);

test('every qualifying feature of a cache made in the page is explained, and the key goes to the API host only', async () => {
  const { page } = browser;
  runId = await makeCache(page, 'saelens-standard');

  await goto(page, 'explain');
  await page.getByTestId('explain-cache-link').first().click();
  await page.getByTestId('explain-run').waitFor();
  await connect(page);
  // delphi's default minimum (200 windows) is out of reach of a small cache: the form says so where the
  // button is, with the most any feature has, and one click sets a minimum that explains some.
  expect(await page.getByTestId('explain-min-examples').inputValue()).toBe('200');
  const most = await interp<number>(page, 'mostWindows', runId);
  expect(most).toBeGreaterThan(0);
  expect(most).toBeLessThan(200);
  await expect.poll(() => page.getByTestId('explain-lower-min').textContent()).toMatch(new RegExp(`No feature of this cache has 200 activating windows; the most any has is ${most}\\.`));
  expect(await page.getByTestId('explain-start').isDisabled()).toBe(true);
  await page.getByTestId('explain-use-min').click();
  await expect.poll(() => page.getByTestId('explain-plan').textContent()).toMatch(/^[1-9][\d,]* features have at least \d+ activating windows/);
  expect(await page.getByTestId('explain-lower-min').count()).toBe(0);
  // The features table counts with the same minimum.
  expect(await page.evaluate(() => (globalThis as any).autointerp.features.minExamples)).toBe(Math.min(10, most));
  const qualifying = await interp<number[]>(page, 'qualifyingFeatures', runId, 2);
  expect(qualifying.length).toBeGreaterThan(5);
  const from = llm.requests.length;
  await startRun(page, { min: 2, concurrency: 4 });
  await page.locator('[data-testid="explain-job"][data-status="done"]').waitFor();
  const results = page.getByTestId('explain-result');
  await expect.poll(() => results.count()).toBe(qualifying.length);
  expect(await page.locator('[data-testid="explain-result"][data-failed="true"]').count()).toBe(0);
  expect(chats(from)).toHaveLength(qualifying.length);
  const job = await lastJob(page);
  expect(job.usage.calls).toBe(qualifying.length);
  expect(job.settings.maxExplanationChars).toBe(1000); // the form's default: longer explanations are failures
  await page.screenshot({ path: 'test-results/explain.png', fullPage: true });
  // A result's link opens the feature's page, which shows what the run said about it.
  const said = (await interp<any[]>(page, 'explanations', job.id))[3];
  await page.locator(`[data-testid="explain-result"][data-feature="${said.feature}"] a`).click();
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${said.feature}`);
  expect(await page.getByTestId('feature-explanation').textContent()).toContain(said.result.explanation);
  await page.goBack();
  await page.getByTestId('explain-run').waitFor();

  // Every request that carried the key went to the stand-in; no request elsewhere mentions it.
  const llmOrigin = new URL(llm.url).origin;
  const withKey = seen.filter((r) => JSON.stringify(r).includes(KEY));
  expect(withKey.length).toBeGreaterThan(0);
  expect(withKey.filter((r) => new URL(r.url).origin !== llmOrigin)).toEqual([]);
  for (const r of withKey) expect(r.url + r.body).not.toContain(KEY); // in the Authorization header only
  // Not in IndexedDB, the Cache API or localStorage (not asked to remember it), nor in an export.
  const stored = await page.evaluate(async () => {
    const dump: string[] = [];
    for (const { name } of await indexedDB.databases()) {
      const db: IDBDatabase = await new Promise((resolve, reject) => {
        const open = indexedDB.open(name!);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      for (const store of Array.from(db.objectStoreNames)) {
        const all: unknown[] = await new Promise((resolve) => {
          const request = db.transaction(store).objectStore(store).getAll();
          request.onsuccess = () => resolve(request.result);
        });
        dump.push(JSON.stringify(all, (_, v) => (ArrayBuffer.isView(v) ? `[${v.byteLength} bytes]` : v)));
      }
      db.close();
    }
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) dump.push(request.url, JSON.stringify([...(await cache.match(request))!.headers]));
    }
    dump.push(JSON.stringify({ ...localStorage }));
    const zip: Blob = await (globalThis as any).autointerp.engine.exportCache((await (globalThis as any).autointerp.engine.listCaches())[0].id, 2);
    dump.push(new TextDecoder('latin1').decode(await zip.arrayBuffer()));
    return dump.join('\n');
  });
  expect(stored.length).toBeGreaterThan(1000);
  expect(stored).not.toContain(KEY);
});

test('the explanations are scored (detection, fuzzing) under 30% faults; the metrics shown are those of the per-example records; the delphi zip reads back the same', async () => {
  const { page } = browser;
  const explainJob = (await lastJob(page)).id;
  const before = (await interp<any[]>(page, 'scoreJobs', runId)).length;
  llm.setFaults({ rate: 0.3, seed: 5 });
  await page.getByTestId('score-concurrency').fill('8');
  await page.getByTestId('score-start').click();
  await expect.poll(async () => (await interp<any[]>(page, 'scoreJobs', runId)).length).toBe(before + 1);
  const id = (await interp<any[]>(page, 'scoreJobs', runId)).at(-1).id;
  await expect.poll(async () => (await interp<any[]>(page, 'scoreJobs', runId)).find((j) => j.id === id).status, { timeout: 200_000, interval: 1000 }).toBe('done');
  llm.setFaults(undefined);
  const stored = await interp<any[]>(page, 'scoreResults', id);
  expect(stored.length).toBeGreaterThan(5);
  await page.locator('[data-testid="score-metrics-row"][data-scorer="fuzzing"]').waitFor();
  for (const scorer of ['detection', 'fuzzing']) {
    // Balanced accuracy by hand over the examples with a prediction; the rest are counted as missing, never guessed.
    const examples = stored.flatMap((s) => s.result.scores[scorer].examples as { activating: boolean; prediction: number | null }[]);
    const judged = examples.filter((e) => e.prediction !== null);
    const positives = judged.filter((e) => e.activating).length;
    const tp = judged.filter((e) => e.activating && e.prediction! >= 0.5).length;
    const tn = judged.filter((e) => !e.activating && e.prediction! < 0.5).length;
    const cell = (metric: string) => page.locator(`[data-testid="score-metrics-row"][data-scorer="${scorer}"] [data-metric="${metric}"]`);
    expect(Number(await cell('balanced_accuracy').getAttribute('data-value'))).toBeCloseTo((tp / positives + tn / (judged.length - positives)) / 2, 9);
    expect(Number(await cell('failed').getAttribute('data-value'))).toBe(examples.length - judged.length);
  }
  await page.getByTestId('score').screenshot({ path: 'test-results/score.png' });
  // The export, read back by the delphi import, holds the same explanations and judgements.
  const bytes: number[] = await page.evaluate(async ({ explainJob, id }) => Array.from(new Uint8Array(await (await (globalThis as any).autointerp.interp.exportResults(explainJob, id)).arrayBuffer())), { explainJob, id });
  const back = await readDelphiResultsZip(new Blob([Uint8Array.from(bytes)]));
  const explanations = await interp<any[]>(page, 'explanations', explainJob);
  expect(back.map((r) => r.explanation)).toEqual(explanations.filter((e) => e.result.explanation).map((e) => e.result.explanation));
  for (const { feature, result } of stored) {
    const read = back.find((r) => r.feature === feature)!;
    expect(read.scores.detection!.map((e) => e.prediction)).toEqual(result.scores.detection.examples.map((e: any) => e.prediction));
    expect(read.scores.fuzzing!.map((e) => e.correct)).toEqual(result.scores.fuzzing.examples.map((e: any) => e.correct));
  }
});

test('a run with 30% injected faults ends every feature, explained or failed, with the totals the server charged', async () => {
  const { page } = browser;
  llm.setFaults({ rate: 0.3, seed: 11 });
  const from = llm.requests.length;
  const id = await startRun(page, { min: 2, concurrency: 4, maxChars: 900 });
  await expect.poll(async () => (await jobById(page, id)).status, { timeout: 180_000, interval: 500 }).toBe('done');
  llm.setFaults(undefined);
  const job = await jobById(page, id);
  expect(job.settings.maxExplanationChars).toBe(900); // the form's field, as typed
  const results = await interp<any[]>(page, 'explanations', job.id);
  expect(results.map((r) => r.feature)).toEqual(job.features);
  for (const { result } of results) expect(Boolean(result.explanation) !== Boolean(result.failure)).toBe(true);
  expect(chats(from).some((r) => r.fault)).toBe(true);
  const charged = chats(from).filter((r) => r.usage);
  expect(job.usage.promptTokens).toBe(charged.reduce((a, r) => a + r.usage!.prompt_tokens, 0));
  expect(job.usage.completionTokens).toBe(charged.reduce((a, r) => a + r.usage!.completion_tokens, 0));
  expect(job.usage.cost).toBe(charged.reduce((a, r) => a + (r.usage!.cost ?? 0), 0));
  // The page shows the failures as failures, with their reason.
  await page.getByTestId('explain-job').last().getByRole('button', { name: 'Results' }).click();
  const failed = results.filter((r) => r.result.failure).length;
  await expect.poll(() => page.locator('[data-testid="explain-result"][data-failed="true"]').count()).toBe(failed);
});

test('a reload mid-run resumes without asking again about a finished feature', async () => {
  const { page } = browser;
  llm.setLatency(400);
  const id = await startRun(page, { min: 2, concurrency: 2 });
  await expect.poll(async () => (await interp<any[]>(page, 'explanations', id)).length).toBeGreaterThanOrEqual(3);
  await page.reload();
  await page.getByTestId('view-explain').waitFor();
  const job = await jobById(page, id);
  const finished = (await interp<any[]>(page, 'explanations', job.id)).length;
  expect(finished).toBeLessThan(job.features.length);
  await page.locator('[data-testid="explain-job"][data-status="paused"]').waitFor();
  llm.setLatency(0);
  // The key was kept for the tab's session: Connect and Resume need nothing typed again.
  await page.getByTestId('llm-connect').click();
  await page.getByTestId('llm-model').waitFor();
  const from = llm.requests.length;
  await page.getByTestId('explain-resume').click();
  await expect.poll(async () => (await jobById(page, id)).status, { interval: 500 }).toBe('done');
  expect(chats(from)).toHaveLength(job.features.length - finished);
  expect((await interp<any[]>(page, 'explanations', job.id)).map((r) => r.feature)).toEqual(job.features);
});

test('after another explain run, the score card selects it and shows its features and cost before Score; progress counts scores', async () => {
  const { page } = browser;
  await connect(page);
  const older = (await lastJob(page)).id;
  await expect.poll(() => page.getByTestId('score-source').inputValue()).toBe(older);
  // The user picks the first run: the card follows the pick until another run finishes.
  const first = (await interp<any[]>(page, 'explainJobs', runId))[0];
  await page.getByTestId('score-source').selectOption(first.id);
  await expect.poll(() => page.getByTestId('score-plan').textContent()).toMatch(new RegExp(`^${first.features.length} explained features × 2 scorers: about [\\d,]+ prompt tokens a feature;\\s+about \\$[\\d.]+ in all\\.`));
  const qualifying = await interp<number[]>(page, 'qualifyingFeatures', runId, 6);
  expect(qualifying.length).toBeGreaterThan(0);
  const id = await startRun(page, { min: 6, concurrency: 2 });
  await expect.poll(async () => (await jobById(page, id)).status, { interval: 250 }).toBe('done');
  await expect.poll(() => page.getByTestId('score-source').inputValue()).toBe(id);
  const explained = (await interp<any[]>(page, 'explanations', id)).filter((r) => r.result.explanation).length;
  await expect.poll(() => page.getByTestId('score-plan').textContent()).toMatch(new RegExp(`^${explained} explained features × 2 scorers`));
  // Score scores that run; its progress counts scores (features × scorers), not features.
  const before = (await interp<any[]>(page, 'scoreJobs', runId)).length;
  await page.getByTestId('score-start').click();
  await expect.poll(async () => (await interp<any[]>(page, 'scoreJobs', runId)).length).toBe(before + 1);
  const scored = (await interp<any[]>(page, 'scoreJobs', runId)).at(-1);
  expect(scored.sourceJobId).toBe(id);
  await expect.poll(async () => (await interp<any[]>(page, 'scoreJobs', runId)).at(-1).status, { interval: 250 }).toBe('done');
  const text = await page.evaluate((job) => (globalThis as any).autointerp.scores.runs.progress[job].text as string, scored.id);
  expect(text).toMatch(new RegExp(`^Scored ${explained * 2} of ${explained * 2} scores`));
});

test('signing in with OpenRouter (PKCE) gets a key for this tab', async () => {
  const { page } = browser;
  await page.getByTestId('llm-forget').click();
  expect(await page.getByTestId('llm-key').inputValue()).toBe('');
  await page.getByTestId('llm-base-url').fill(llm.openRouterBase);
  await page.getByTestId('llm-sign-in').click();
  // The stand-in's /auth sends the browser back with ?code=; the page trades it for a key.
  await expect.poll(() => page.getByTestId('llm-key').inputValue()).toMatch(/.{8,}/);
  expect(page.url()).not.toContain('code=');
  await page.getByTestId('llm-key-status').waitFor();
  const exchange = llm.requests.find((r) => r.method === 'POST' && r.path === '/api/v1/auth/keys');
  expect(exchange?.status).toBe(200);
  expect(JSON.stringify(exchange?.body)).toMatch(/code_verifier/);
  expect(await page.evaluate(() => localStorage.getItem('autointerp.llm-key'))).toBeNull();
  // Failed requests are the faults injected above; nothing else went wrong in the page.
  expect(browser.errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
});
