import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Plugin } from 'vite';

/** Where the offline stand-in for the Hugging Face hub keeps its repos: `<owner>/<repo>/<file>`, `datasets/<owner>/<repo>/<file>`. */
export const HUB_FIXTURES = resolve(import.meta.dirname, '../test/fixtures/hub');

const directories = (path: string): string[] =>
  readdirSync(path, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);

/** `<owner>/<repo>` of every repo under `path` (a folder of owners). */
const reposIn = (path: string): string[] => directories(path).flatMap((owner) => directories(join(path, owner)).map((repo) => `${owner}/${repo}`));

/** The `<config>/<split>` folders of a dataset repo that hold .parquet files (the conversion's layout), with those files in order. */
const splitFolders = (path: string): [string, string[]][] =>
  directories(path).flatMap((config) => directories(join(path, config)).map((split): [string, string[]] => [
    `${config}/${split}`,
    readdirSync(join(path, config, split)).filter((name) => name.endsWith('.parquet')).sort(),
  ])).filter(([, files]) => files.length > 0);

const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');

const copyRepo = (from: string, to: string): void => cpSync(from, to, { recursive: true, filter: (src) => !src.endsWith('.md') });

/**
 * Writes the fixture repos into `target` at the URLs the Hugging Face hub serves them from, so that the
 * demo model and dataset load through the real hub code from any static host:
 * - a model `<owner>/<repo>/` at `<owner>/<repo>/resolve/main/`;
 * - a dataset `datasets/<owner>/<repo>/` at `datasets/<owner>/<repo>/resolve/main/`, and for each
 *   `<config>/<split>/` folder of parquet files in it, the hub API's answer for that split,
 *   `api/datasets/<owner>/<repo>/parquet/<config>/<split>`: a JSON list of the files' URLs (relative to
 *   the hub, at revision main).
 * Why the API answer and not the parquet-conversion branch: the hub serves that at the revision
 * `refs%2Fconvert%2Fparquet`, one URL segment with encoded slashes, and static hosts disagree on it:
 * scripts/servers/static-server.ts (`npm start`) and Python's http.server decode it to folders
 * `refs/convert/parquet/`, others look for a folder named literally `refs%2Fconvert%2Fparquet`, Apache
 * refuses encoded slashes outright. The dataset lookup asks the API first (src/lib/corpus/hub-dataset.ts),
 * and the URLs it answers hold no encoded slash, so the demo dataset loads wherever dist/ is served.
 */
export function writeDemoHub(fixtures: string, target: string): void {
  for (const repo of reposIn(fixtures).filter((repo) => !repo.startsWith('datasets/'))) {
    copyRepo(join(fixtures, repo), join(target, repo, 'resolve', 'main'));
  }
  if (!existsSync(join(fixtures, 'datasets'))) return;
  for (const repo of reposIn(join(fixtures, 'datasets'))) {
    const source = join(fixtures, 'datasets', repo);
    copyRepo(source, join(target, 'datasets', repo, 'resolve', 'main'));
    for (const [folder, files] of splitFolders(source)) {
      const answer = join(target, 'api', 'datasets', repo, 'parquet', folder);
      mkdirSync(dirname(answer), { recursive: true });
      writeFileSync(answer, JSON.stringify(files.map((file) => `datasets/${repo}/resolve/main/${encodePath(`${folder}/${file}`)}`)));
    }
  }
}

/** The toy SAE the demo offers (SAELens TopK, 128 features on the tiny GPT-2's blocks.2.hook_resid_post). */
export const DEMO_SAE = resolve(import.meta.dirname, '../test/fixtures/sae/saelens-topk');

/** Copies the demo SAE's files into `target` with `files.json`, the list the page fetches them by. */
export function writeDemoSae(source: string, target: string): void {
  const files = readdirSync(source).filter((name) => !name.endsWith('.md')).sort();
  mkdirSync(target, { recursive: true });
  for (const name of files) cpSync(join(source, name), join(target, name));
  writeFileSync(join(target, 'files.json'), JSON.stringify(files));
}

/** Writes the demo hub into `dist/demo-hub/` and the demo SAE into `dist/demo-sae/` after each build (see writeDemoHub). */
export function demoHubPlugin(): Plugin {
  let outDir = 'dist';
  return {
    name: 'autointerp-demo-hub',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      if (existsSync(HUB_FIXTURES)) writeDemoHub(HUB_FIXTURES, join(outDir, 'demo-hub'));
      if (existsSync(DEMO_SAE)) writeDemoSae(DEMO_SAE, join(outDir, 'demo-sae'));
    },
  };
}
