/**
 * The browser client, served from its vite build (`npm run build:web` writes client/dist): the join page at
 * /join/<id>, the run overview at /runs/<id>, and their assets, the onnxruntime wasm files and the prepared
 * corpus files, all cross-origin isolated. `/` lists the runs. Without a build, the pages say how to make
 * one.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { HttpError } from './http-error';
import type { RunDirectory } from './run-directory';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.bin': 'application/octet-stream',
  '.map': 'application/json',
};

/**
 * Makes the pages cross-origin isolated: shared wasm memory, which onnxruntime-web's wasm threads need, is
 * only given to such pages. Everything the pages load comes from this server, so nothing is blocked by it;
 * the assets carry the headers too, for the workers they start.
 */
const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
} as const;

/**
 * Answers `path` (still percent-encoded) from the client build; false when it is neither a page nor a
 * file of the build. A path that does not decode is an HttpError (400).
 */
export async function serveWebClient(
  path: string,
  webRoot: string | undefined,
  runs: RunDirectory,
  res: ServerResponse,
): Promise<boolean> {
  if (path === '/') return sendRunList(runs, res);
  const page = /^\/(join|runs)\/[\w-]{1,64}\/?$/.exec(path);
  const built = webRoot !== undefined && existsSync(join(webRoot, 'join.html'));
  if (page) {
    if (!built) return sendNotBuilt(res);
    return sendFile(res, join(webRoot, page[1] === 'join' ? 'join.html' : 'run.html'), 'no-cache');
  }
  if (!built) return false;
  // Only files inside the build: a path that normalises outside it is not served.
  const file = normalize(join(webRoot, decodePath(path)));
  if (!file.startsWith(normalize(webRoot) + sep)) return false;
  // Vite names assets by content hash, so they may be cached for good; the rest is revalidated.
  return sendFile(
    res,
    file,
    path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
  );
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new HttpError(
      400,
      'bad-path',
      `the path ${JSON.stringify(path.slice(0, 200))} is not valid percent-encoding`,
    );
  }
}

/** Sends a regular file; false when there is none (missing, a directory, a name the system refuses). */
function sendFile(res: ServerResponse, file: string, cacheControl: string): boolean {
  let size: number;
  try {
    const stats = statSync(file);
    if (!stats.isFile()) return false;
    size = stats.size;
  } catch {
    return false;
  }
  res.writeHead(200, {
    ...ISOLATION_HEADERS,
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': cacheControl,
  });
  // The file can vanish between the stat and the read (a rebuild): the reply is cut short, and the
  // error goes no further (unhandled, a stream's error would end the process).
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
  return true;
}

async function sendRunList(runs: RunDirectory, res: ServerResponse): Promise<true> {
  const items = (await runs.summaries())
    .map((run) => `<li><a href="/runs/${run.id}">${escapeHtml(run.name ?? run.id)}</a></li>`)
    .join('');
  return sendPage(res, 'Runs', `<ul>${items}</ul>`);
}

function sendNotBuilt(res: ServerResponse): true {
  return sendPage(
    res,
    'The browser client is not built',
    '<p>Run <code>npm run build:web</code> (or <code>npm start</code>, which builds it) and reload.</p>',
  );
}

function sendPage(res: ServerResponse, title: string, body: string): true {
  res.writeHead(200, { ...ISOLATION_HEADERS, 'content-type': 'text/html; charset=utf-8' });
  res.end(
    `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
      `<title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
  );
  return true;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
