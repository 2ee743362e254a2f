/**
 * Builds the app once and serves it, plus the hub stand-in on a second origin (as the real hub is),
 * for every browser test file.
 */
import { resolve } from 'node:path';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';
import { startStaticServer, type StaticServer } from '../../scripts/servers/static-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    appUrl: string;
    hubUrl: string;
  }
}

const root = resolve(import.meta.dirname, '../..');
let servers: StaticServer[] = [];

export async function setup(project: TestProject): Promise<void> {
  // TEST_DIST: another folder than dist/, so that two test runs at once do not build over each other.
  const outDir = resolve(root, process.env.TEST_DIST ?? 'dist');
  if (!process.env.SKIP_BUILD) await build({ root, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const app = await startStaticServer([{ prefix: '/', root: outDir }]);
  const hub = await startStaticServer([{ prefix: '/', root: resolve(root, 'test/fixtures/hub'), hubLayout: true }]);
  servers = [app, hub];
  project.provide('appUrl', app.url);
  project.provide('hubUrl', hub.url);
}

export async function teardown(): Promise<void> {
  await Promise.all(servers.map((s) => s.close()));
}
