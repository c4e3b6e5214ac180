/**
 * The "create a run" form: POST /api/runs with the admin token the user types (sent as
 * `Authorization: Bearer <token>`, never stored), then the join URL of the new run, or the server's error.
 *
 *   #create-run-form           fields named id, name, preset, topology, algorithm, lr, schedule, steps,
 *                              encoding, maxPeers, adminToken
 *   #create-run-result         [data-outcome="ok"] with a#created-join-url and a#created-overview-url,
 *                              or [data-outcome="error"] with the server's message
 */
import type { ErrorBody } from './types';

export type CreatedRun = { token: string; joinUrl: string; overviewUrl: string; run: { id: string } };

/** The RunConfig the form describes; the server validates it (and names any field it refuses). */
export function runConfigFromForm(data: FormData): Record<string, unknown> {
  const str = (key: string) => String(data.get(key) ?? '').trim();
  const num = (key: string) => {
    const text = str(key);
    return text === '' ? undefined : Number(text);
  };
  const config: Record<string, unknown> = {
    id: str('id'),
    model: { preset: str('preset') || 'small' },
    topology: str('topology') || 'ring',
    algorithm: {
      name: str('algorithm') || 'demuon',
      lr: { eta: num('lr') ?? 0.05, schedule: str('schedule') || 'linear' },
    },
    encoding: str('encoding') || 'fp32',
  };
  const name = str('name');
  if (name) config.name = name;
  const steps = num('steps');
  if (steps !== undefined) config.steps = steps;
  const maxPeers = num('maxPeers');
  if (maxPeers !== undefined) config.maxPeers = maxPeers;
  return config;
}

export function setupCreateRun(form: HTMLFormElement, result: HTMLElement): void {
  const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const token = String(data.get('adminToken') ?? '').trim();
    const config = runConfigFromForm(data);
    if (submit) submit.disabled = true;
    showPending(result);
    createRun(config, token)
      .then((outcome) => {
        if (outcome.ok) showCreated(result, outcome.created);
        else showError(result, outcome.message);
      })
      .catch((error: unknown) => showError(result, `could not reach the server: ${(error as Error).message}`))
      .finally(() => {
        if (submit) submit.disabled = false;
      });
  });
}

async function createRun(
  config: Record<string, unknown>,
  token: string,
): Promise<{ ok: true; created: CreatedRun } | { ok: false; message: string }> {
  const res = await fetch('/api/runs', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(config),
  });
  const body = (await res.json().catch(() => undefined)) as (CreatedRun & ErrorBody) | undefined;
  if (res.ok && body?.joinUrl) return { ok: true, created: body };
  const message = body?.error?.message ?? `the server answered ${res.status} ${res.statusText}`;
  return {
    ok: false,
    message: `${message} (HTTP ${res.status}${body?.error?.code ? `, ${body.error.code}` : ''})`,
  };
}

function showPending(result: HTMLElement): void {
  result.hidden = false;
  result.dataset.outcome = 'pending';
  result.textContent = 'Creating the run…';
}

function showError(result: HTMLElement, message: string): void {
  result.hidden = false;
  result.dataset.outcome = 'error';
  result.setAttribute('role', 'alert');
  const title = document.createElement('strong');
  title.textContent = 'The run was not created: ';
  result.replaceChildren(title, document.createTextNode(message));
}

function showCreated(result: HTMLElement, created: CreatedRun): void {
  result.hidden = false;
  result.dataset.outcome = 'ok';
  result.setAttribute('role', 'status');
  const heading = document.createElement('p');
  heading.textContent = `Run "${created.run.id}" created. Share its join URL with the peers:`;
  const join = link(created.joinUrl, 'created-join-url');
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.className = 'copy';
  copy.textContent = 'Copy';
  copy.addEventListener('click', () => {
    // navigator.clipboard exists only in secure contexts (https, localhost), not on a LAN address.
    const clipboard = window.isSecureContext ? navigator.clipboard : undefined;
    if (!clipboard) {
      getSelection()?.selectAllChildren(join);
      copy.textContent = 'Selected: copy it';
      return;
    }
    clipboard.writeText(created.joinUrl).then(
      () => {
        copy.textContent = 'Copied';
      },
      () => {
        getSelection()?.selectAllChildren(join);
        copy.textContent = 'Selected: copy it';
      },
    );
  });
  const joinLine = document.createElement('p');
  joinLine.className = 'url-line';
  joinLine.append(join, copy);
  const overview = document.createElement('p');
  overview.append('Its overview: ', link(created.overviewUrl, 'created-overview-url'));
  result.replaceChildren(heading, joinLine, overview);
}

function link(href: string, id: string): HTMLAnchorElement {
  const a = document.createElement('a');
  a.id = id;
  a.href = href;
  a.textContent = href;
  a.className = 'url';
  return a;
}
