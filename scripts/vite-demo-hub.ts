import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';

/** Where the offline stand-in for the Hugging Face hub keeps its repos: `<owner>/<repo>/<file>`. */
export const HUB_FIXTURES = resolve(import.meta.dirname, '../test/fixtures/hub');

/**
 * Copies the fixture repos into `dist/demo-hub/<owner>/<repo>/resolve/main/`, the hub's URL shape, so the
 * demo mode loads the tiny model through the real hub-loading code from any static host.
 */
export function demoHubPlugin(): Plugin {
  let outDir = 'dist';
  return {
    name: 'autointerp-demo-hub',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      if (!existsSync(HUB_FIXTURES)) return;
      for (const owner of readdirSync(HUB_FIXTURES, { withFileTypes: true })) {
        if (!owner.isDirectory()) continue;
        for (const repo of readdirSync(join(HUB_FIXTURES, owner.name), { withFileTypes: true })) {
          if (!repo.isDirectory()) continue;
          const target = join(outDir, 'demo-hub', owner.name, repo.name, 'resolve', 'main');
          cpSync(join(HUB_FIXTURES, owner.name, repo.name), target, { recursive: true, filter: (src) => !src.endsWith('.md') });
        }
      }
    },
  };
}
