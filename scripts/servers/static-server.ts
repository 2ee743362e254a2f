/**
 * A small static file server for the built app and for the offline stand-in of the Hugging Face hub.
 * Like the real hub it answers CORS requests from any origin, HEAD and byte ranges (the parquet reader
 * and resumable downloads need them), and maps `/<owner>/<repo>/resolve/<revision>/<file>` (models) and
 * `/datasets/<owner>/<repo>/resolve/<revision>/<file>` (datasets) to files, whatever the revision.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
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
  root: string;
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

function resolveFile(site: ServedSite, relative: string): string | undefined {
  let path: string;
  if (site.hubLayout) {
    // Matched before decoding: a revision such as refs%2Fconvert%2Fparquet is one segment, as on the hub.
    const match = /^(datasets\/)?([^/]+)\/([^/]+)\/resolve\/[^/]+\/(.+)$/.exec(relative);
    if (!match) return undefined;
    path = decodeURIComponent(`${match[1] ?? ''}${match[2]}/${match[3]}/${match[4]}`);
  } else {
    path = decodeURIComponent(relative);
  }
  const root = resolve(site.root);
  const file = normalize(join(root, path));
  if (file !== root && !file.startsWith(root + sep)) return undefined; // no escaping the root
  if (existsSync(file) && statSync(file).isDirectory()) return join(file, 'index.html');
  return file;
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
  const file = site && resolveFile(site, pathname.slice(site.prefix.length));
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
