/**
 * Serves the live page: `GET /` is dashboards/page/index.html, `/dashboard/<file>` its
 * scripts and styles, `/vendor/<file>` the two browser libraries it uses, read from their
 * npm packages (uPlot's ES module and stylesheet, msgpackr's browser build).
 *
 * The vendor files are served from node_modules rather than copied at build time: the
 * page then needs no build step, works the same from src/ (tests) and dist/ (the CLI), and
 * always matches the versions package-lock.json pins.
 *
 * The page holds no data: it is served without the token, and asks for the token (or
 * reads it from the URL fragment, which browsers never send) to open the job API.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page may talk to its own origin only (the websocket included). */
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The package root: the nearest directory above this module that holds dashboards/page. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'dashboards', 'page', 'index.html'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('the live page (dashboards/page/index.html) was not found above the coordinator module');
}

/** The directory of an installed package (the nearest package.json of that name above its entry). */
function packageDir(require: NodeJS.Require, name: string): string {
  let dir = dirname(require.resolve(name));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === name) return dir;
    dir = dirname(dir);
  }
  throw new Error(`package ${name} not found`);
}

interface Asset {
  readonly file: string;
  readonly type: string;
}

/** Every URL path the page server answers, to the file it sends. */
export function pageRoutes(): ReadonlyMap<string, Asset> {
  const root = packageRoot();
  const pageDir = join(root, 'dashboards', 'page');
  const require = createRequire(join(root, 'package.json'));
  const routes = new Map<string, Asset>();
  const add = (path: string, file: string) => {
    const type = CONTENT_TYPES[extname(file)];
    if (!type) throw new Error(`no content type for ${file}`);
    routes.set(path, { file, type });
  };
  add('/', join(pageDir, 'index.html'));
  for (const name of readdirSync(pageDir)) {
    if (/^[a-z0-9_-]+\.(js|css|svg)$/.test(name)) add(`/dashboard/${name}`, join(pageDir, name));
  }
  const uplot = join(packageDir(require, 'uplot'), 'dist');
  add('/vendor/uPlot.esm.js', join(uplot, 'uPlot.esm.js'));
  add('/vendor/uPlot.min.css', join(uplot, 'uPlot.min.css'));
  add('/vendor/msgpackr.min.js', join(packageDir(require, 'msgpackr'), 'dist', 'index.min.js'));
  return routes;
}

export type PageHandler = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/** A request handler for the page's routes; returns false for a path it does not serve. */
export function createPageHandler(): PageHandler {
  const routes = pageRoutes();
  const cache = new Map<string, Buffer>();
  return (req, res, path) => {
    const asset = routes.get(path === '/index.html' ? '/' : path);
    if (!asset) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    let body = cache.get(asset.file);
    if (!body) {
      body = readFileSync(asset.file);
      cache.set(asset.file, body);
    }
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': body.byteLength,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      ...(asset.type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
