/**
 * The run overview at /runs/<runId>: the whole run at a glance, live. It loads the run (GET
 * /api/runs/<id>) and its metrics history (GET /api/runs/<id>/metrics.json), then follows `run-state`
 * snapshots over socket.io (`watch`), and draws the topology, the peers, the loss curves across nodes, the
 * export links and a form to create a run.
 *
 * Stable hooks for tests and scripts:
 *   #status[data-state]              loading | live | reconnecting | offline | unknown-run | error
 *   #run-title                       the run's name (its id when it has none)
 *   #run-id, #run-topology, #run-algorithm, #run-model, #run-members ("n / maxPeers"), #run-epoch,
 *   #run-step ("largest step / steps"), #topology-fallback (shown when the ring fallback is in use)
 *   #run-error                       shown for an unknown run (404) or when the server cannot be reached
 *   #dashboard                       hidden until the run is loaded
 *   #topology svg circle[data-peer][data-index][data-loss][data-away]      one node per member
 *   #topology .edge[data-from][data-to][data-state][data-drops][data-directed]  one edge per linked pair
 *     (a <line>; a torus's wrap-around edges are a <path>); data-state is
 *     open | degraded (open with drops) | connecting | closed | unknown (not reported yet)
 *   #link-list (details) > #link-summary, #link-table tbody tr[data-from][data-to][data-state]
 *   #peer-table tbody tr[data-peer="<id>"] > [data-field="index|peer|name|platform|backend|step|epoch|
 *     train-loss|val-loss|bytes-out|bytes-in|timing|status"]; the status cell has data-status
 *     live | away | resumed | joining
 *   #val-loss-chart, #train-loss-chart, #spread-chart[data-kind="val-spread|consensus"], #spread-note,
 *   #curves-empty (shown until the first report)
 *   #export-csv, #export-json        links to metrics.csv and metrics.json
 *   #download-model, #model-status, the Try box   the run's model (see model-panel.ts)
 *   #create-run-form, #create-run-result[data-outcome="ok|error"], #created-join-url
 * `window.__overview` is { points: the number of metrics points held, state: the latest run-state }.
 */
import './style.css';
import { io } from 'socket.io-client';
import { setupCreateRun } from './create-run';
import { Curves } from './curves';
import { LossScale } from './format';
import { MetricsHistory } from './history';
import { LinkTable } from './link-table';
import { setupModelPanel } from './model-panel';
import { PeerTable } from './peer-table';
import { TopologyView } from './topology-view';
import type { MetricsPoint, RunConfig, RunState, RunSummary } from './types';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

type Status = 'loading' | 'live' | 'reconnecting' | 'offline' | 'unknown-run' | 'error';

function setStatus(state: Status, text: string): void {
  const status = $('status');
  status.dataset.state = state;
  status.textContent = text;
}

/** /runs/<id> (also /runs/<id>/); `?run=<id>` for a page opened elsewhere. */
function runIdFromLocation(): string | undefined {
  const fromPath = /^\/runs\/([\w-]{1,64})\/?$/.exec(location.pathname)?.[1];
  const fromQuery = new URLSearchParams(location.search).get('run') ?? undefined;
  const id = fromPath ?? fromQuery;
  return id && /^[\w-]{1,64}$/.test(id) ? id : undefined;
}

function showRunError(title: string, detail: string): void {
  const box = $('run-error');
  const h = document.createElement('h2');
  h.textContent = title;
  const p = document.createElement('p');
  p.textContent = detail;
  const back = document.createElement('p');
  const a = document.createElement('a');
  a.href = '/';
  a.textContent = 'See the runs on this server';
  back.append(a, ', or create one below.');
  box.replaceChildren(h, p, back);
  box.hidden = false;
  $('dashboard').hidden = true;
}

class Overview {
  private readonly history = new MetricsHistory();
  private readonly topology: TopologyView;
  private readonly peers: PeerTable;
  private readonly links: LinkTable;
  private readonly curves: Curves;
  private state: RunState;
  private resyncTimer: ReturnType<typeof setTimeout> | undefined;
  private resyncing = false;

  constructor(
    private readonly runId: string,
    private readonly config: RunConfig,
    state: RunState,
  ) {
    this.state = state;
    const select = (peer: string) => {
      this.topology.select(peer);
      this.peers.select(peer, true);
    };
    this.topology = new TopologyView($('topology'), (peer) => select(peer));
    this.peers = new PeerTable($<HTMLTableElement>('peer-table'), (peer) => {
      this.topology.select(peer);
      this.peers.select(peer);
    });
    this.links = new LinkTable(
      $<HTMLDetailsElement>('link-list'),
      $('link-summary'),
      $<HTMLTableElement>('link-table').tBodies[0],
    );
    $('dashboard').hidden = false;
    this.curves = new Curves(
      {
        val: $('val-loss-chart'),
        train: $('train-loss-chart'),
        spread: $('spread-chart'),
        spreadTitle: $('spread-title'),
        spreadNote: $('spread-note'),
        empty: $('curves-empty'),
      },
      this.history,
    );
    const base = `/api/runs/${encodeURIComponent(runId)}`;
    const csv = $<HTMLAnchorElement>('export-csv');
    csv.href = `${base}/metrics.csv`;
    csv.download = `${runId}-metrics.csv`;
    const json = $<HTMLAnchorElement>('export-json');
    json.href = `${base}/metrics.json`;
    json.download = `${runId}-metrics.json`;
    this.render();
    this.curves.draw();
  }

  /** A `run-state` snapshot: each member's latest report joins the history, then everything redraws. */
  onState(state: RunState): void {
    if (state.runId !== this.runId) return;
    this.state = state;
    if (this.addLatest(state)) this.curves.schedule();
    this.render();
  }

  /** (Re)loads every metrics point, so the curves are complete after a reload or a reconnection. */
  async loadHistory(): Promise<void> {
    if (this.resyncing) return;
    this.resyncing = true;
    clearTimeout(this.resyncTimer);
    let bytes = 0;
    try {
      const res = await fetch(`/api/runs/${encodeURIComponent(this.runId)}/metrics.json`, {
        cache: 'no-store',
      });
      if (!res.ok) throw new Error(`metrics.json: HTTP ${res.status}`);
      const text = await res.text();
      bytes = text.length;
      const { points } = JSON.parse(text) as { points: MetricsPoint[] };
      this.history.reset(points);
      // Points that arrived over the socket while the history was on its way.
      this.addLatest(this.state);
      this.curves.draw();
      this.render();
    } catch (error) {
      $('spread-note').dataset.historyError = (error as Error).message;
    } finally {
      this.resyncing = false;
      // run-state carries each member's latest point only (at most 4 snapshots a second), so a fast run
      // can skip points between two snapshots: fetch the whole history again now and then, less often
      // for a large one.
      const delay = Math.min(600_000, Math.max(30_000, (bytes / 1_000_000) * 60_000));
      this.resyncTimer = setTimeout(() => {
        if (document.visibilityState === 'visible') void this.loadHistory();
        else document.addEventListener('visibilitychange', () => void this.loadHistory(), { once: true });
      }, delay);
    }
  }

  private addLatest(state: RunState): boolean {
    let changed = false;
    for (const m of state.members) if (m.latest && this.history.add(m.latest)) changed = true;
    return changed;
  }

  private render(): void {
    const { state, config } = this;
    renderHeader(config, state);
    this.topology.update(state, (peer) => this.history.latest(peer));
    const byVal = state.members.some((m) => this.history.latest(m.peer).val !== undefined);
    const scale = LossScale.of(
      state.members.map((m) => {
        const l = this.history.latest(m.peer);
        return byVal ? l.val?.value : l.train?.value;
      }),
    );
    this.peers.update(state, (peer) => this.history.latest(peer), scale, byVal);
    this.links.update(state);
    (window as unknown as { __overview: unknown }).__overview = { points: this.history.size, state };
  }
}

function renderHeader(config: RunConfig, state: RunState): void {
  const title = state.name ?? config.name ?? config.id;
  $('run-title').textContent = title;
  document.title = `${title} · run overview`;
  $('run-subtitle').textContent = config.name ? `Run “${config.id}”` : '';
  $('run-summary').hidden = false;
  $('run-id').textContent = config.id;
  $('run-topology').textContent =
    state.period > 1 ? `${state.topology} (period ${state.period})` : state.topology;
  const lr = config.algorithm.lr;
  $('run-algorithm').textContent = `${config.algorithm.name}, η = ${lr.eta} (${lr.schedule})`;
  $('run-model').textContent =
    `${config.model.preset} GPT · batch ${config.batch} · ${config.encoding} gossip`;
  const away = state.members.filter((m) => m.away).length;
  $('run-members').textContent =
    `${state.members.length} / ${config.maxPeers}${away > 0 ? ` (${away} away)` : ''}`;
  $('run-epoch').textContent = state.epoch > 0 ? `${state.epoch} (from step ${state.activationStep})` : '—';
  const step = Math.max(0, ...state.members.map((m) => m.step ?? 0));
  $('run-step').textContent = `${step} / ${config.steps}`;
  const progress = $<HTMLProgressElement>('run-progress');
  progress.max = config.steps;
  progress.value = Math.min(step, config.steps);
  const fallback = $('topology-fallback');
  fallback.hidden = !state.topologyFallback;
  fallback.textContent = state.topologyFallback
    ? `The run's topology (${formatSpec(config.topology)}) does not fit ${state.members.length} peers, so a ring is used: ${state.topologyFallback}`
    : '';
}

function formatSpec(spec: RunConfig['topology']): string {
  const s = spec as { kind: string; rows?: number; cols?: number; degree?: number; p?: number };
  if (s.kind === 'torus' && s.rows !== undefined) return `torus:${s.rows}x${s.cols}`;
  if (s.kind === 'random-regular') return `random-regular:${s.degree}`;
  if (s.kind === 'erdos-renyi') return `erdos-renyi:${s.p}`;
  return s.kind;
}

function connect(overview: Overview, runId: string): void {
  const socket = io({ transports: ['websocket'] });
  let connectedBefore = false;
  socket.on('connect', () => {
    socket.emit('watch', { runId }, (ack: { ok: boolean; error?: { code: string; message: string } }) => {
      if (ack?.ok) setStatus('live', 'live');
      else if (ack?.error?.code === 'unknown-run') {
        setStatus('unknown-run', 'unknown run');
        showRunError(`No run “${runId}”`, ack.error.message);
        socket.disconnect();
      } else setStatus('error', `watch refused: ${ack?.error?.message ?? 'no answer'}`);
    });
    // Reports sent while the connection was down reach the curves through the history.
    if (connectedBefore) void overview.loadHistory();
    connectedBefore = true;
  });
  socket.on('run-state', (state: RunState) => overview.onState(state));
  socket.on('disconnect', (reason) => {
    if (reason === 'io client disconnect') return;
    setStatus('reconnecting', 'connection lost, reconnecting…');
  });
  socket.on('connect_error', () => setStatus('offline', 'cannot reach the server, retrying…'));
}

async function main(): Promise<void> {
  setupCreateRun($<HTMLFormElement>('create-run-form'), $('create-run-result'));
  const runId = runIdFromLocation();
  if (!runId) {
    setStatus('unknown-run', 'no run');
    showRunError('No run given', 'Open /runs/<run id> to follow a run.');
    $<HTMLDetailsElement>('create-run').open = true;
    return;
  }
  $('run-title').textContent = runId;
  let res: Response;
  try {
    // The list first: asking for an unknown run directly would log a 404 in the console.
    const list = await fetch('/api/runs', { cache: 'no-store' });
    const runs = list.ok ? ((await list.json()) as RunSummary[]) : undefined;
    if (runs && !runs.some((r) => r.id === runId)) return showUnknownRun(runId);
    res = await fetch(`/api/runs/${encodeURIComponent(runId)}`, { cache: 'no-store' });
  } catch (error) {
    setStatus('offline', 'server unreachable');
    showRunError('The server cannot be reached', (error as Error).message);
    return;
  }
  if (res.status === 404) return showUnknownRun(runId);
  if (!res.ok) {
    setStatus('error', `HTTP ${res.status}`);
    showRunError('The run could not be loaded', `The server answered ${res.status} ${res.statusText}.`);
    return;
  }
  const { config, state } = (await res.json()) as { config: RunConfig; state: RunState };
  const overview = new Overview(runId, config, state);
  setupModelPanel(runId);
  setStatus('loading', 'connecting…');
  connect(overview, runId);
  await overview.loadHistory();
}

function showUnknownRun(runId: string): void {
  setStatus('unknown-run', 'unknown run');
  document.title = `Unknown run “${runId}” · run overview`;
  showRunError(`No run “${runId}” on this server`, 'Check the address.');
  $<HTMLDetailsElement>('create-run').open = true;
  const idField = $<HTMLFormElement>('create-run-form').elements.namedItem('id') as HTMLInputElement | null;
  if (idField && !idField.value) idField.value = runId;
}

main().catch((error: unknown) => {
  setStatus('error', 'error');
  showRunError('The overview failed', (error as Error).message ?? String(error));
});
