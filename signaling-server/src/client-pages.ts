/**
 * ┌──────────────────────────────────────────────────────────────────────────────────────────────────┐
 * │ PLACEHOLDER — the built browser client is served from here.                                        │
 * │ Later work replaces this module: serve the vite build (client/dist: the join page at /join/<id>,   │
 * │ the overview dashboard at /runs/<id>, and their assets) statically. Until then these routes answer │
 * │ a small page (status 200) saying the client is not built yet. Nothing else in the server changes.  │
 * └──────────────────────────────────────────────────────────────────────────────────────────────────┘
 */
import type { ServerResponse } from 'node:http';
import type { RunRegistry } from './run-registry';

/** Answers `path` if it is a client page; false when it is not one (the caller answers 404). */
export function serveClientPage(path: string, registry: RunRegistry, res: ServerResponse): boolean {
  const match = /^\/(join|runs)\/([\w-]{1,64})\/?$/.exec(path);
  if (path === '/') {
    const items = registry
      .list()
      .map((run) => `<li><a href="/runs/${run.id}">${escapeHtml(run.config.name ?? run.id)}</a></li>`)
      .join('');
    return sendPage(res, 'Runs', `<ul>${items}</ul>`);
  }
  if (!match) return false;
  const [, page, runId] = match;
  const what = page === 'join' ? `join run “${runId}”` : `the overview of run “${runId}”`;
  return sendPage(
    res,
    `Run ${runId}`,
    `<p>The browser client is not built yet, so this page cannot ${page === 'join' ? '' : 'show '}${what}.</p>
<p>Node peers can join already; the JSON API is at <a href="/api/runs/${runId}">/api/runs/${runId}</a>.</p>`,
  );
}

function sendPage(res: ServerResponse, title: string, body: string): true {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
      `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
  );
  return true;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
