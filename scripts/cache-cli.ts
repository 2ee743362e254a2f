/**
 * `npm run cache -- --model <hub id or folder> --sae <file or folder> --dataset <file or hub dataset id>
 *                   --tokens N --out <dir>`
 *
 * Drives the app itself in headless Chromium (WebGPU) to cache SAE activations, and writes the cache in
 * delphi's layout (`<out>/<hook>/config.json`, `<out>/<hook>/<start>_<end>.safetensors`): for big jobs
 * on a machine with a GPU, for benchmarks and for checks. Options:
 *   --ctx 256  --seed 22  --splits 5  --column text  --config default  --split train
 *   --files data/train-00000-of-00002.parquet,data/train-00001-of-00002.parquet  (a hub dataset's parquet
 *     files, paths in the repo at main, comma-separated: the page's "Parquet files" field)
 *   --hub https://huggingface.co/  (where hub ids are fetched from)  --dataset-hub <url>  (a hub dataset's hub; default --hub)
 *   --hook blocks.6.hook_resid_pre  --center yes|no  (settings the SAE's files leave open)
 *   --gpu  (use the machine's GPU adapter instead of SwiftShader)
 *   --precision float32|float16  (the encoder's arithmetic; float16 only on a GPU with shader-f16, and
 *     its measured agreement with float32 is printed)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkCorpusNumbers, parseParquetPaths } from '../src/lib/index.ts';
import { launch } from './chromium.ts';
import { startStaticServer, type ServedSite } from './servers/static-server.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' }, sae: { type: 'string' }, dataset: { type: 'string' }, tokens: { type: 'string' }, out: { type: 'string' },
    ctx: { type: 'string', default: '256' }, seed: { type: 'string', default: '22' }, splits: { type: 'string', default: '5' },
    column: { type: 'string', default: 'text' }, config: { type: 'string', default: 'default' }, split: { type: 'string', default: 'train' },
    files: { type: 'string' }, 'dataset-hub': { type: 'string' },
    hub: { type: 'string', default: 'https://huggingface.co/' }, hook: { type: 'string' }, center: { type: 'string' }, gpu: { type: 'boolean', default: false },
    precision: { type: 'string', default: 'float32' },
  },
});
for (const required of ['model', 'sae', 'dataset', 'tokens', 'out'] as const) {
  if (!args[required]) {
    console.error(`Missing --${required}. Usage: npm run cache -- --model <hub id or folder> --sae <file or folder> --dataset <file or hub id> --tokens N --out <dir>`);
    process.exit(2);
  }
}
// The same checks as the page's corpus panel; the model's own limit (n_positions) is checked once it is loaded.
const numbers = checkCorpusNumbers({ ctx: args.ctx, maxTokens: args.tokens, seed: args.seed });
const splits = Number(args.splits);
if (!numbers.ok || !Number.isInteger(splits) || splits < 1) {
  for (const message of Object.values(numbers.errors)) console.error(message);
  if (!Number.isInteger(splits) || splits < 1) console.error(`--splits: "${args.splits}" is not a whole number of at least 1.`);
  process.exit(2);
}
if (args.precision !== 'float32' && args.precision !== 'float16') {
  console.error(`--precision: "${args.precision}" is not float32 or float16.`);
  process.exit(2);
}
if (args.gpu) process.env.WEBGPU_ADAPTER = 'gpu';

const root = resolve(import.meta.dirname, '..');
if (!existsSync(join(root, 'dist/index.html'))) execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: root, stdio: 'inherit' });

const listFiles = (path: string): string[] =>
  statSync(path).isDirectory() ? readdirSync(path).flatMap((name) => listFiles(join(path, name))) : [path];

// Local folders and files are served next to the app; hub ids go to the hub as they would from a user's browser.
const sites: ServedSite[] = [{ prefix: '/', root: join(root, 'dist') }];
const localModel = existsSync(args.model!) && statSync(args.model!).isDirectory();
if (localModel) sites.push({ prefix: '/local-hub/local/model/resolve/main/', root: resolve(args.model!) });
const saePath = resolve(args.sae!);
const saeRoot = statSync(saePath).isDirectory() ? saePath : dirname(saePath);
const saeFiles = listFiles(saePath).map((file) => relative(saeRoot, file));
sites.push({ prefix: '/sae/', root: saeRoot });
const localDataset = existsSync(args.dataset!);
if (localDataset) sites.push({ prefix: '/dataset/', root: dirname(resolve(args.dataset!)) });

const server = await startStaticServer(sites);
const browser = await launch();
const out = resolve(args.out!);
try {
  const { page } = browser;
  page.setDefaultTimeout(0);
  await page.exposeFunction('__cliLog', (line: string) => console.log(line));
  await page.exposeFunction('__cliWrite', (path: string, base64: string) => {
    const target = join(out, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, Buffer.from(base64, 'base64'));
  });
  await page.goto(server.url);
  const result = await page.evaluate(async (job) => {
    const { engine } = (globalThis as any).autointerp;
    const log = (globalThis as any).__cliLog as (line: string) => Promise<void>;
    const comlink = (globalThis as any).autointerp.proxy as <T>(f: T) => T;
    const model = await engine.loadModel(job.model);
    await log(`model: ${model.repo} (${model.nLayer} layers, d_model ${model.dModel})`);
    const files = await Promise.all(job.saeFiles.map(async (path: string) => ({ path: `sae/${path}`, blob: await (await fetch(`sae/${path.split('/').map(encodeURIComponent).join('/')}`)).blob() })));
    const opened = await engine.openSaeFiles(files);
    const choice = opened.choices[0];
    const overrides: Record<string, unknown> = {};
    if (job.hook) overrides.hookName = job.hook;
    if (job.center) overrides.centerResidual = job.center === 'yes';
    if (job.precision === 'float16') overrides.encoderPrecision = 'float16';
    const sae = await engine.selectSae(choice.id, { overrides });
    await log(`SAE: ${choice.summary.title}`);
    const check = sae.precisionCheck;
    if (check) await log(`float16 encoder against float32 on ${check.tokens} probe tokens: same active features on ${check.sameFeatures}, ${(check.featureRecall * 100).toFixed(1)} % of float32's found, values within ${(check.worstRelative * 100).toFixed(2)} % of the largest`);
    let source;
    if (job.datasetFile) {
      const blob = await (await fetch(`dataset/${encodeURIComponent(job.datasetFile)}`)).blob();
      const file = new File([blob], job.datasetFile);
      const kind = (globalThis as any).autointerp.corpusKindOf(job.datasetFile);
      source = kind === 'text' ? { kind, file } : { kind, file, column: job.column };
    } else {
      source = { kind: 'hub', repo: job.dataset, config: job.config, split: job.split, column: job.column, hubUrl: job.datasetHub, ...(job.files.length ? { files: job.files } : {}) };
    }
    const corpus = await engine.prepareCorpus(source, { ctx: job.ctx, maxTokens: job.tokens, seed: job.seed, prependBos: sae.spec.prependBos });
    await log(`corpus: ${corpus.rows} rows x ${corpus.ctx} = ${corpus.tokens} tokens from ${corpus.documents} documents`);
    const run = await engine.createCache({});
    const started = performance.now();
    const done = await engine.runCache(run.id, {}, comlink((p: any) => void log(`  ${p.text}`)));
    const seconds = (performance.now() - started) / 1000;
    await engine.exportCacheFiles(run.id, job.splits, comlink(async (path: string, bytes: Uint8Array) => {
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      await (globalThis as any).__cliWrite(path, btoa(binary));
    }));
    return { hook: sae.spec.hookName, tokens: done.nRows * done.ctx, nnz: done.nnz, bytes: done.bytes, seconds };
  }, {
    model: localModel ? { repo: 'local/model', hubUrl: `${server.url}local-hub/` } : { repo: args.model, hubUrl: args.hub },
    saeFiles,
    datasetFile: localDataset ? basename(args.dataset!) : undefined,
    dataset: args.dataset, column: args.column, config: args.config, split: args.split, datasetHub: args['dataset-hub'] ?? args.hub, files: parseParquetPaths(args.files ?? ''),
    ctx: numbers.numbers.ctx, tokens: numbers.numbers.maxTokens, seed: numbers.numbers.seed, splits,
    hook: args.hook, center: args.center, precision: args.precision,
  });
  console.log(`cached ${result.tokens} tokens (${result.nnz} activations, ${(result.bytes / result.nnz).toFixed(2)} bytes each in IndexedDB) in ${result.seconds.toFixed(1)} s; wrote ${join(out, result.hook)}`);
  if (browser.errors.length) console.warn('page errors:', browser.errors);
} catch (error) {
  // What the app said, without Playwright's wrapping of an error thrown in the page.
  console.error((error as Error).message.replace(/^page\.evaluate: (\w*Error: )?/, '').split('\n')[0]);
  process.exitCode = 1;
} finally {
  await browser.close();
  await server.close();
}
