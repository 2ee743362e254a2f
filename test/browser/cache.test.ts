/**
 * The activation cache in a real browser: real WebGPU, real IndexedDB (a persistent profile), a reload
 * in the middle of a run, and a storage quota forced down through the DevTools protocol.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { detectSaes, loadSaeWeights } from '../../src/lib/sae/index.ts';
import { expectedCodes, fixtureFiles, tokenRows } from '../support/sae-fixtures.ts';
import { appUrl, hubUrl, launch, type Browser } from './harness.ts';

const SAE = 'saelens-topk';
const CTX = 32;
const ROWS = 24;
const CHUNK_ROWS = 4; // six chunks, so there is something to interrupt
const rows = tokenRows(ROWS, CTX, 99);

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

/** Opens the app, loads the tiny model and selects the SAE: what a user does after a reload too. */
async function ready(): Promise<void> {
  const { page } = browser;
  await page.goto(appUrl());
  const files = fixtureFiles(SAE).map((f) => ({ path: f.path, base64: Buffer.from(f.bytes).toString('base64') }));
  await page.evaluate(async ({ hub, files }) => {
    const { engine } = (globalThis as any).autointerp;
    await engine.loadModel({ repo: 'autointerp-test/tiny-gpt2', hubUrl: hub });
    const blobs = files.map((f) => ({ path: f.path, blob: new Blob([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))]) }));
    const opened = await engine.openSaeFiles(blobs);
    await engine.selectSae(opened.choices[0].id);
  }, { hub: hubUrl(), files });
}

const create = () =>
  browser.page.evaluate(async ({ tokens, ctx, chunkRows }) => {
    const run = await (globalThis as any).autointerp.engine.createCache({ tokens: Uint32Array.from(tokens), ctx, description: 'test rows', seed: 1, maxTokens: tokens.length, chunkRows });
    return run.id as string;
  }, { tokens: rows.flat(), ctx: CTX, chunkRows: CHUNK_ROWS });

const run = (id: string) =>
  browser.page.evaluate(async (id) => {
    try {
      return { run: await (globalThis as any).autointerp.engine.runCache(id) };
    } catch (error) {
      return { error: `[${(error as any).code}] ${(error as Error).message}` };
    }
  }, id);

const digest = (id: string) => browser.page.evaluate((id) => (globalThis as any).autointerp.engine.cacheDigest(id), id);
const caches = () => browser.page.evaluate(() => (globalThis as any).autointerp.engine.listCaches());

/**
 * Starts a run of `id` in the page without waiting for it, a row per batch: many short steps, so that
 * whatever interrupts it (a reload, a closed browser, another SAE) lands while it is still going, however
 * slow or loaded the machine. (batchRows changes no stored byte: see the pause test.)
 */
const startRun = (id: string) => void browser.page.evaluate((id) => (globalThis as any).autointerp.engine.runCache(id, { batchRows: 1 }), id).catch(() => undefined);

/** Waits until `id` has at least `chunks` whole chunks stored. */
const untilChunks = (id: string, chunks: number) => expect.poll(async () => (await caches()).find((c: any) => c.id === id).chunksDone, { interval: 20 }).toBeGreaterThanOrEqual(chunks);

let uninterrupted = '';
let uninterruptedId = '';

test('a cache of the tiny model and SAE equals one computed from the reference forward', async () => {
  await ready();
  const id = await create();
  const result = await run(id);
  expect(result.error).toBeUndefined();
  expect(result.run).toMatchObject({ status: 'done', chunksDone: ROWS / CHUNK_ROWS, nChunks: ROWS / CHUNK_ROWS, nRows: ROWS });
  expect(result.run.nnz).toBe(ROWS * CTX * 8); // TopK k = 8 on every token
  // Goal: at most 6 bytes per stored non-zero, token matrix and counts included.
  expect(result.run.bytes / result.run.nnz).toBeLessThan(6);

  const { candidates } = await detectSaes(fixtureFiles(SAE).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
  const spec = candidates[0]!.spec;
  const { codes } = await expectedCodes(spec, await loadSaeWeights(candidates[0]!, spec), rows);
  const stored = await browser.page.evaluate(async ({ id, width }) => {
    const out: { tokens: number[]; values: number[] }[] = [];
    for (let f = 0; f < width; f++) {
      const feature = await (globalThis as any).autointerp.engine.cacheFeature(id, f);
      out.push({ tokens: Array.from(feature.tokens as Uint32Array), values: Array.from(feature.values as Float32Array) });
    }
    return out;
  }, { id, width: spec.width });
  let compared = 0;
  for (let f = 0; f < spec.width; f++) {
    const expectedTokens: number[] = [];
    const expectedValues: number[] = [];
    codes.forEach((code, t) => {
      const at = code.indices.indexOf(f);
      if (at >= 0) {
        expectedTokens.push(t);
        expectedValues.push(code.values[at]!);
      }
    });
    expect(stored[f]!.tokens, `feature ${f}`).toEqual(expectedTokens);
    expectedValues.forEach((v, i) => expect(Math.abs(stored[f]!.values[i]! - v), `feature ${f}`).toBeLessThan(1e-3 * Math.abs(v) + 1e-4));
    compared += expectedTokens.length;
  }
  expect(compared).toBe(ROWS * CTX * 8);
  uninterrupted = await digest(id);
  uninterruptedId = id;
});

test('a run interrupted by a reload and then resumed is byte-identical to an uninterrupted one', async () => {
  await ready();
  const id = await create();
  // Start the run without waiting for it, and reload as soon as some (not all) chunks are stored.
  // (The reload destroys the page's context, which rejects the run's evaluate: expected.)
  startRun(id);
  await untilChunks(id, 1);
  await browser.page.reload();
  const partial = (await caches()).find((c: any) => c.id === id);
  expect(partial.chunksDone).toBeGreaterThanOrEqual(1);
  expect(partial.chunksDone).toBeLessThan(partial.nChunks);
  await ready();
  const resumed = await run(id);
  expect(resumed.error).toBeUndefined();
  expect(resumed.run.status).toBe('done');
  expect(await digest(id)).toBe(uninterrupted);
});

test('pause stops a run within its chunk, progress moves batch by batch, and resume completes the same cache', async () => {
  await ready();
  // Two chunks of 12 rows, encoded a row at a time: twelve batches per chunk, so a pause asked for after
  // the second lands mid-chunk however late the worker hears of it (the pause crosses threads).
  const result = await browser.page.evaluate(async ({ tokens, ctx }) => {
    const { engine, proxy } = (globalThis as any).autointerp;
    const run = await engine.createCache({ tokens: Uint32Array.from(tokens), ctx, description: 'pause test', seed: 1, maxTokens: tokens.length, chunkRows: 12 });
    const seen: number[] = [];
    const pause = new AbortController();
    const paused = await engine.runCache(run.id, { batchRows: 1 }, proxy((p: { done: number }) => {
      seen.push(p.done);
      if (seen.length === 2) pause.abort();
    }), pause.signal);
    return { id: run.id as string, paused, seen };
  }, { tokens: rows.flat(), ctx: CTX });
  expect(result.paused.status).toBe('paused');
  expect(result.paused.chunksDone).toBe(0); // the pause came before the first chunk was whole
  expect(result.seen.slice(0, 2)).toEqual([CTX, 2 * CTX]);
  expect(result.seen.length).toBeLessThan(12); // it stopped within the chunk, batch by batch
  // The rows encoded before the pause are stored: the count shown last is the count kept.
  const kept = result.seen.at(-1)! / CTX;
  expect(kept).toBeGreaterThanOrEqual(2);
  expect(result.paused).toMatchObject({ chunksDone: 0, partialRows: kept, nnz: kept * CTX * 8 });
  const listed = (await caches()).find((c: any) => c.id === result.id);
  expect(listed).toEqual(result.paused);

  const resumed = await browser.page.evaluate((id) => (globalThis as any).autointerp.engine.runCache(id, { batchRows: 5 }), result.id);
  expect(resumed).toMatchObject({ status: 'done', chunksDone: 2, nnz: ROWS * CTX * 8 });
  expect(await allFeatures(result.id, 128)).toEqual(await allFeatures(uninterruptedId, 128));
});

test('an SAE switched mid-run stops the run; other settings cannot resume it; the same SAE completes the same cache', async () => {
  await ready();
  const id = await create();
  const other = fixtureFiles('saelens-standard').map((f) => ({ path: f.path, base64: Buffer.from(f.bytes).toString('base64') }));
  await browser.page.evaluate((id) => {
    const g = globalThis as any;
    g.__run = g.autointerp.engine.runCache(id, { batchRows: 1 }).then((run: unknown) => ({ run }), (error: any) => ({ error: `[${error.code}] ${error.message}` }));
  }, id);
  await untilChunks(id, 1);
  const stopped = await browser.page.evaluate(async (files) => {
    const { engine } = (globalThis as any).autointerp;
    const opened = await engine.openSaeFiles(files.map((f) => ({ path: f.path, blob: new Blob([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))]) })));
    await engine.selectSae(opened.choices[0].id);
    return (globalThis as any).__run;
  }, other);
  expect(stopped.error).toContain('[cache/mismatch]');
  expect(stopped.error).toMatch(/changed while the cache was running/);
  const partial = (await caches()).find((c: any) => c.id === id);
  expect(partial.chunksDone).toBeGreaterThanOrEqual(1);
  expect(partial.chunksDone).toBeLessThan(partial.nChunks);

  // The right file with a setting changed is refused, naming the setting; with its own settings it resumes.
  const files = fixtureFiles(SAE).map((f) => ({ path: f.path, base64: Buffer.from(f.bytes).toString('base64') }));
  const outcome = await browser.page.evaluate(async ({ id, files }) => {
    const { engine } = (globalThis as any).autointerp;
    const opened = await engine.openSaeFiles(files.map((f) => ({ path: f.path, blob: new Blob([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))]) })));
    const choice = opened.choices[0];
    await engine.selectSae(choice.id, { overrides: { centerResidual: !choice.spec.centerResidual } });
    const refused = await engine.runCache(id).then(() => 'ran', (error: any) => `[${error.code}] ${error.message}`);
    await engine.selectSae(choice.id);
    return { refused, resumed: await engine.runCache(id) };
  }, { id, files });
  expect(outcome.refused).toContain('[cache/mismatch]');
  expect(outcome.refused).toMatch(/set up differently \(centerResidual: /);
  expect(outcome.resumed.status).toBe('done');
  expect(await digest(id)).toBe(uninterrupted);
});

test('closing the browser mid-run, then a full disk, then space freed: a clear message, nothing lost, the same cache', async () => {
  // Chrome applies a storage quota override only to databases it opens afterwards, so each phase is a
  // fresh browser on the same profile: which is also what closing the browser mid-run is.
  const profile = mkdtempSync(join(tmpdir(), 'autointerp-quota-'));
  const origin = new URL(appUrl()).origin;
  const phase = async (quota: number | undefined, body: () => Promise<void>) => {
    browser = await launch({ profile });
    const cdp = await browser.context.newCDPSession(browser.page);
    await cdp.send('Storage.overrideQuotaForOrigin', quota === undefined ? { origin } : { origin, quotaSize: quota });
    try {
      await ready();
      await body();
    } finally {
      await browser.close();
    }
  };
  const shared = browser;
  let id = '';
  try {
    await phase(undefined, async () => {
      id = await create();
      startRun(id);
      await untilChunks(id, 1);
    }); // the browser closes with the run in flight
    let before: any;
    await phase(1, async () => {
      before = (await caches()).find((c: any) => c.id === id);
      expect(before.chunksDone).toBeGreaterThanOrEqual(1);
      expect(before.chunksDone).toBeLessThan(before.nChunks);
      const failed = await run(id);
      expect(failed.error).toContain('[storage/quota]');
      expect(failed.error).toMatch(/ran out of storage.*intact.*resume/);
      // Nothing was half-written: the same whole chunks as before (the status itself cannot be saved on a full disk).
      const stopped = (await caches()).find((c: any) => c.id === id);
      expect(stopped.chunksDone).toBe(before.chunksDone);
      expect(stopped.nnz).toBe(before.nnz);
    });
    await phase(undefined, async () => {
      const resumed = await run(id);
      expect(resumed.error).toBeUndefined();
      expect(await digest(id)).toBe(uninterrupted);
    });
  } finally {
    browser = shared;
    rmSync(profile, { recursive: true, force: true });
  }
});

/** Every feature's stored (token, value) pairs of a cache, read through the engine. */
const allFeatures = (id: string, width: number) =>
  browser.page.evaluate(async ({ id, width }) => {
    const out: [number[], number[]][] = [];
    for (let f = 0; f < width; f++) {
      const feature = await (globalThis as any).autointerp.engine.cacheFeature(id, f);
      out.push([Array.from(feature.tokens as Uint32Array), Array.from(feature.values as Float32Array)]);
    }
    return out;
  }, { id, width });

test('export to delphi\'s layout and import back gives the same activations; importing it again adds nothing', async () => {
  await ready();
  const original = await allFeatures(uninterruptedId, 128);
  const exported = await browser.page.evaluate(async (id) => {
    const { engine } = (globalThis as any).autointerp;
    const zip: Blob = await engine.exportCache(id, 3);
    // While caches with these contents are here (earlier tests made several), none is imported again: one comes back.
    const existing = (await engine.listCaches()).map((run: any) => run.id);
    const again = await engine.importDelphi([{ path: 'cache.zip', blob: zip }]);
    const count = (await engine.listCaches()).length;
    for (const other of existing) await engine.deleteCache(other);
    const runs = await engine.importDelphi([{ path: 'cache.zip', blob: zip }]);
    return { size: zip.size, existing, again, count, runs };
  }, uninterruptedId);
  expect(exported.again).toHaveLength(1);
  expect(exported.existing).toContain(exported.again[0].id);
  expect(exported.count).toBe(exported.existing.length);
  expect(exported.size).toBeGreaterThan(1000);
  expect(exported.runs).toHaveLength(1);
  const [run] = exported.runs;
  expect(run.id).not.toBe(uninterruptedId);
  expect(run).toMatchObject({ status: 'done', nRows: ROWS, ctx: CTX, width: 128, nnz: ROWS * CTX * 8 });
  expect(run.settings.sae.hookName).toBe('blocks.2.hook_resid_post');
  expect(await allFeatures(run.id, 128)).toEqual(original);
});

test('a delphi cache written by an independent (Python) implementation imports with its exact values', async () => {
  const root = join(import.meta.dirname, '../fixtures/delphi');
  const expected = JSON.parse(readFileSync(join(root, 'expected.json'), 'utf8'));
  const files = Object.keys(expected.hooks).flatMap((hook: string) =>
    readdirSync(join(root, 'tiny', hook)).map((name) => ({ path: `tiny/${hook}/${name}`, base64: readFileSync(join(root, 'tiny', hook, name)).toString('base64') })));
  const runs = await browser.page.evaluate(async (files) => {
    const blobs = files.map((f) => ({ path: f.path, blob: new Blob([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))]) }));
    return (globalThis as any).autointerp.engine.importDelphi(blobs);
  }, files);
  expect(runs.map((r: any) => r.settings.sae.hookName).sort()).toEqual(Object.keys(expected.hooks).sort());
  for (const run of runs) {
    const activations = expected.hooks[run.settings.sae.hookName].activations as { row: number; position: number; feature: number; value: number }[];
    const stored = await allFeatures(run.id, expected.width);
    for (let f = 0; f < expected.width; f++) {
      const want = activations.filter((a) => a.feature === f).sort((a, b) => a.row - b.row || a.position - b.position);
      expect(stored[f]![0], `${run.settings.sae.hookName} feature ${f}`).toEqual(want.map((a) => a.row * expected.ctx + a.position));
      expect(stored[f]![1]).toEqual(want.map((a) => a.value));
    }
  }
});
