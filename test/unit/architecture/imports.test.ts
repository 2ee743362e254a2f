/**
 * The architecture, checked: imports run one way between the core's stages, every folder is entered
 * through its door (index.ts), workers and the UI import the core through src/lib/index.ts only, and
 * nothing imports in a circle. The rules are also run on made-up violations, so that a checker that
 * sees nothing cannot pass.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const LIB = 'src/lib';

/**
 * The order of the core's parts: a file may import parts of lower rank only (or its own part).
 * Equal ranks may not import each other. Parts not listed here fail the test until they are ranked.
 */
const RANKS: Record<string, number> = {
  'errors.ts': 0,
  util: 1,
  'types.ts': 2,
  formats: 3,
  storage: 4,
  hub: 4,
  model: 5,
  sae: 6,
  corpus: 6,
  latents: 7,
  explainers: 8,
  scorers: 8,
  clients: 4,
  metrics: 3,
  pipeline: 9,
  runtime: 10,
  'index.ts': 11,
};

type Graph = Map<string, string[]>;

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{},\s$]+?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Relative import specifiers of a source file (the <script> of a .svelte file). */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2]!;
    if (spec.startsWith('.')) out.push(spec);
  }
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    return statSync(join(ROOT, path)).isDirectory() ? walk(path) : /\.(ts|svelte)$/.test(name) ? [path] : [];
  });
}

function buildGraph(files: string[], read: (file: string) => string): Graph {
  const graph: Graph = new Map();
  for (const file of files) {
    const targets = importsOf(read(file)).map((spec) => relative(ROOT, resolve(ROOT, dirname(file), spec)).split(sep).join('/'));
    graph.set(file, targets);
  }
  return graph;
}

const partOf = (file: string): string => file.slice(LIB.length + 1).split('/')[0]!;
const isAncestorDir = (dir: string, of: string): boolean => of === dir || of.startsWith(`${dir}/`);

/** Why importing `target` from `file` breaks a rule, or undefined. */
export function violation(file: string, target: string): string | undefined {
  const fromLib = file.startsWith(`${LIB}/`);
  const toLib = target.startsWith(`${LIB}/`);
  if (fromLib) {
    if (!toLib) return 'the core imports nothing outside src/lib';
    const from = dirname(file);
    const to = dirname(target);
    if (target === `${LIB}/index.ts`) return 'the core does not import its own door';
    if (to !== from) {
      const door = target.endsWith('/index.ts') && isAncestorDir(dirname(to), from);
      const ancestorFile = !target.endsWith('/index.ts') && isAncestorDir(to, from);
      if (!door && !ancestorFile) return `reaches past the door of ${to} (import ${to}/index.ts)`;
    }
    const a = partOf(file);
    const b = partOf(target);
    if (a !== b) {
      const rankA = RANKS[a];
      const rankB = RANKS[b];
      if (rankA === undefined || rankB === undefined) return `${rankA === undefined ? a : b} has no rank in RANKS`;
      if (rankB >= rankA) return `imports run the wrong way: ${a} (rank ${rankA}) may not import ${b} (rank ${rankB})`;
    }
    return undefined;
  }
  if (toLib) {
    if (target === `${LIB}/index.ts`) return undefined;
    if (target === `${LIB}/runtime/index.ts` && /^workers\/.*\.worker\.ts$/.test(file)) return undefined;
    return `outside the core, import ${LIB}/index.ts${file.startsWith('workers/') ? ' (worker entry files: also runtime/index.ts)' : ''}, not ${target}`;
  }
  if (file.startsWith('workers/') && !target.startsWith('workers/')) return 'workers import the core and other workers only';
  if (file.startsWith('src/ui/') && !target.startsWith('src/ui/') && !/^workers\/(.*\/api\.ts|comlink-handlers\.ts)$/.test(target)) {
    return 'the UI imports the core, its own files, worker APIs (types) and the comlink handlers only';
  }
  return undefined;
}

/** Every cycle's first file chain, or [] when the graph has none. */
export function cycles(graph: Graph): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const found: string[][] = [];
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('imports', () => {
  const files = [...walk(LIB), ...walk('workers'), ...walk('src/ui')];
  const graph = buildGraph(files, (file) => readFileSync(join(ROOT, file), 'utf8'));

  test('the checker reads real imports (every core file is imported by something, and every import resolves)', () => {
    expect(files.length).toBeGreaterThan(50);
    const imported = new Set([...graph.values()].flat());
    for (const [file, targets] of graph) {
      for (const target of targets) expect(statSync(join(ROOT, target), { throwIfNoEntry: false })?.isFile(), `${file} imports ${target}`).toBe(true);
    }
    const orphans = [...graph.keys()].filter((file) => file.startsWith(`${LIB}/`) && file !== `${LIB}/index.ts` && !imported.has(file));
    expect(orphans).toEqual([]);
  });

  test('run one way, through doors', () => {
    const broken = [...graph].flatMap(([file, targets]) => targets.map((target) => [file, target, violation(file, target)] as const).filter(([, , why]) => why));
    expect(broken.map(([file, target, why]) => `${file} -> ${target}: ${why}`)).toEqual([]);
  });

  test('form no cycles', () => {
    expect(cycles(graph).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  test('every folder of the core has a door', () => {
    const folders = new Set(files.filter((f) => f.startsWith(`${LIB}/`)).map((f) => dirname(f)).filter((d) => d !== LIB));
    expect([...folders].filter((dir) => !files.includes(`${dir}/index.ts`))).toEqual([]);
  });
});

describe('the rules catch what they are for', () => {
  test.each([
    ['src/lib/storage/cache-store.ts', 'src/lib/latents/index.ts', /wrong way/],
    ['src/lib/model/hook-graph.ts', 'src/lib/sae/index.ts', /wrong way/],
    ['src/lib/sae/corpus-use.ts', 'src/lib/corpus/index.ts', /wrong way/],
    ['src/lib/latents/cache-runner.ts', 'src/lib/storage/cache-store.ts', /door of src\/lib\/storage/],
    ['src/lib/latents/cache-runner.ts', 'src/lib/latents/delphi/format.ts', /door of src\/lib\/latents\/delphi/],
    ['src/lib/sae/load.ts', 'src/lib/index.ts', /own door/],
    ['src/lib/sae/load.ts', 'workers/engine/api.ts', /outside src\/lib/],
    ['workers/engine/engine.ts', 'src/lib/sae/index.ts', /import src\/lib\/index.ts/],
    ['workers/engine/engine.ts', 'src/lib/runtime/index.ts', /import src\/lib\/index.ts/],
    ['src/ui/state/engine.svelte.ts', 'src/lib/model/hooks.ts', /import src\/lib\/index.ts/],
    ['src/ui/state/engine.svelte.ts', 'workers/engine/engine.ts', /worker APIs/],
    ['src/lib/newstage/x.ts', 'src/lib/errors.ts', /no rank/],
  ])('%s -> %s is refused', (file, target, why) => {
    expect(violation(file, target)).toMatch(why);
  });

  test.each([
    ['src/lib/latents/cache-runner.ts', 'src/lib/storage/index.ts'],
    ['src/lib/latents/cache-runner.ts', 'src/lib/latents/delphi/index.ts'],
    ['src/lib/formats/onnx/build.ts', 'src/lib/formats/float16.ts'],
    ['src/lib/formats/onnx/decode.ts', 'src/lib/errors.ts'],
    ['workers/engine/engine.worker.ts', 'src/lib/runtime/index.ts'],
    ['src/ui/state/engine.svelte.ts', 'workers/engine/api.ts'],
  ])('%s -> %s is allowed', (file, target) => {
    expect(violation(file, target)).toBeUndefined();
  });

  test('a cycle is found', () => {
    const graph: Graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c', 'a']]);
  });

  test('imports are read from every form of import and export', () => {
    const source = `import a from './a.ts';\nimport type { B } from '../b.ts';\nexport * from './c/index.ts';\nexport { d } from './d.ts';\nimport './e.css';\nconst f = await import('./f.ts');\nimport x from 'idb';\n  import {\n  g,\n} from './g.ts';`;
    expect(importsOf(source)).toEqual(['./a.ts', '../b.ts', './c/index.ts', './d.ts', './e.css', './f.ts', './g.ts']);
  });
});
