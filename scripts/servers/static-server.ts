/**
 * A small static file server for the built app and for the offline stand-in of the Hugging Face hub.
 * Like the real hub it answers CORS requests from any origin, HEAD and byte ranges (the parquet reader
 * and resumable downloads need them), and maps `/<owner>/<repo>/resolve/<revision>/<file>` (models) and
 * `/datasets/<owner>/<repo>/resolve/<revision>/<file>` (datasets) to files, whatever the revision.
 * As the hub does, a hub site also answers `/api/models/<owner>/<repo>/revision/<rev>` with the repo's
 * file list, 401 for anything of a repo that does not exist (the hub cannot tell a missing repo from a
 * private one), 404 for a missing file of an existing repo, and a 302 redirect to another path for large
 * (LFS) files such as `.onnx` (the hub sends those to a CDN).
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

export interface ServedSite {
  /** URL prefix, e.g. '/' or '/hub/'. */
  prefix: string;
  /** The folder served; with several, the first that has the file wins (a hub of fixtures plus generated repos). */
  root: string | string[];
  /** Map `[datasets/]<owner>/<repo>/resolve/<revision>/<file>` to `<root>/[datasets/]<owner>/<repo>/<file>`. */
  hubLayout?: boolean;
}

export interface StaticServer {
  url: string;
  port: number;
  server: Server;
  /** Every request path seen, in order (tests assert which hosts and files were asked for). */
  requests: string[];
  close(): Promise<void>;
}

const rootsOf = (site: ServedSite): string[] => (Array.isArray(site.root) ? site.root : [site.root]).map((root) => resolve(root));

/** `path` under one of the site's roots (the first that has it, else the first root), never outside them. */
function underRoots(site: ServedSite, path: string): string | undefined {
  const candidates = rootsOf(site).map((root) => ({ root, file: normalize(join(root, path)) }));
  if (candidates.some(({ root, file }) => file !== root && !file.startsWith(root + sep))) return undefined; // no escaping a root
  return (candidates.find(({ file }) => existsSync(file)) ?? candidates[0])?.file;
}

function resolveFile(site: ServedSite, relative: string): string | undefined {
  let path: string;
  if (site.hubLayout) {
    // Matched before decoding: a revision such as refs%2Fconvert%2Fparquet is one segment, as on the hub.
    const match = /^(datasets\/)?([^/]+)\/([^/]+)\/resolve\/[^/]+\/(.+)$/.exec(relative) ?? /^lfs\/(datasets\/)?([^/]+)\/([^/]+)\/(.+)$/.exec(relative);
    if (!match) return underRoots(site, decodeURIComponent(relative)); // static API answers (the demo hub writes some)
    path = decodeURIComponent(`${match[1] ?? ''}${match[2]}/${match[3]}/${match[4]}`);
  } else {
    path = decodeURIComponent(relative);
  }
  const file = underRoots(site, path);
  if (file && existsSync(file) && statSync(file).isDirectory()) return join(file, 'index.html');
  return file;
}

/** Files the hub keeps in LFS and serves through a redirect. */
const LFS_FILE = /\.(onnx|onnx_data|onnx_data_\d+|data|safetensors|parquet|bin)$/;

function listRepo(dir: string, prefix = ''): { rfilename: string; size: number }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = `${prefix}${entry.name}`;
    return entry.isDirectory() ? listRepo(join(dir, entry.name), `${path}/`) : [{ rfilename: path, size: statSync(join(dir, entry.name)).size }];
  }).sort((a, b) => (a.rfilename < b.rfilename ? -1 : 1));
}

/** The hub's answers that are not files: the model API, 401 for a missing repo, redirects for LFS files. True when it answered. */
function answerAsHub(site: ServedSite, relative: string, request: IncomingMessage, response: ServerResponse): boolean {
  const api = /^api\/models\/([^/]+)\/([^/]+)\/revision\/([^/?]+)$/.exec(relative);
  const resolveUrl = /^(datasets\/)?([^/]+)\/([^/]+)\/resolve\/[^/]+\/(.+)$/.exec(relative);
  const repoOf = (kind: string | undefined, owner: string, name: string) => underRoots(site, `${kind ?? ''}${decodeURIComponent(owner)}/${decodeURIComponent(name)}`);
  if (api) {
    const dir = repoOf(undefined, api[1]!, api[2]!);
    if (!dir || !existsSync(dir) || !statSync(dir).isDirectory()) {
      response.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'Repository not found' }));
      return true;
    }
    const body = { id: `${api[1]}/${api[2]}`, sha: '0'.repeat(40), siblings: listRepo(dir) };
    response.writeHead(200, { 'Content-Type': 'application/json' }).end(request.method === 'HEAD' ? undefined : JSON.stringify(body));
    return true;
  }
  if (resolveUrl) {
    const dir = repoOf(resolveUrl[1], resolveUrl[2]!, resolveUrl[3]!);
    // (Datasets keep answering 404 here: the dataset reader's not-found path is what its tests exercise.)
    if (!resolveUrl[1] && (!dir || !existsSync(dir))) {
      response.writeHead(401, { 'Content-Type': 'text/plain' }).end('Repository not found');
      return true;
    }
    const file = resolveFile(site, relative);
    if (file && existsSync(file) && LFS_FILE.test(file)) {
      const size = statSync(file).size;
      response.writeHead(302, { Location: `${site.prefix}lfs/${resolveUrl[1] ?? ''}${resolveUrl[2]}/${resolveUrl[3]}/${resolveUrl[4]}`, 'X-Linked-Size': size, 'Access-Control-Expose-Headers': 'X-Linked-Size, Location' }).end();
      return true;
    }
  }
  return false;
}

function handle(sites: ServedSite[], request: IncomingMessage, response: ServerResponse): void {
  response.setHeader('Access-Control-Allow-Origin', '*');
  response.setHeader('Access-Control-Allow-Headers', '*');
  response.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, Accept-Ranges, ETag');
  if (request.method === 'OPTIONS') {
    response.writeHead(204).end();
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405).end();
    return;
  }
  const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
  const site = [...sites].sort((a, b) => b.prefix.length - a.prefix.length).find((s) => pathname.startsWith(s.prefix));
  const relative = site ? pathname.slice(site.prefix.length) : '';
  if (site?.hubLayout && answerAsHub(site, relative, request, response)) return;
  const file = site && resolveFile(site, relative);
  if (!file || !existsSync(file) || !statSync(file).isFile()) {
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end(`Not found: ${pathname}`);
    return;
  }
  const size = statSync(file).size;
  const headers: Record<string, string | number> = {
    'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-cache',
    ETag: `"${size}-${statSync(file).mtimeMs}"`,
  };
  const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '');
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (range && (range[1] || range[2])) {
    if (range[1]) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    } else {
      start = Math.max(0, size - Number(range[2]));
    }
    if (start >= size || start > end) {
      response.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = size === 0 ? 0 : end - start + 1;
  response.writeHead(status, headers);
  if (request.method === 'HEAD' || size === 0) {
    response.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(response);
}

export async function startStaticServer(sites: ServedSite[], options: { port?: number; host?: string } = {}): Promise<StaticServer> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? '');
    try {
      handle(sites, request, response);
    } catch (error) {
      response.writeHead(500).end(String(error));
    }
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, host, done);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/`,
    port,
    server,
    requests,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(() => done()); }),
  };
}
