/**
 * The join page (/join/<runId>?token=…): starts the peer worker, hosts its WebRTC connections and shows
 * this peer's dashboard. `?provider=wasm|webgpu` forces an execution provider, `?name=` names the peer and
 * `?wait=N` starts training once the run has N peers (default 2: alone, a peer has no one to gossip with);
 * `?resident=0` copies parameters through the CPU each step even on WebGPU (for comparison).
 *
 * Stable hooks for tests: #state, #step ("k / K"), #epoch, #members, #train-loss, #val-loss, #provider,
 * #peer-id, #disagreement, #neighbours tbody tr[data-peer], #loss-chart, #disagreement-chart, #time-chart,
 * #bytes-chart, #pause, #leave, #error.
 */
import { LineChart } from '../charts';
import type { Capabilities, PageToWorker, StepEvent, WorkerToPage } from '../messages';
import { RtcHost } from '../rtc-host';

const $ = (id: string) => document.getElementById(id)!;
const text = (id: string, value: string) => {
  $(id).textContent = value;
};

const runId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const query = new URLSearchParams(location.search);
const token = query.get('token');
const provider = (['wasm', 'webgpu'] as const).find((p) => p === query.get('provider')) ?? 'auto';
const resident = query.get('resident') !== '0';
const waitForPeers = Math.max(1, Math.floor(Number(query.get('wait') ?? 2)) || 2);

const charts = {
  loss: new LineChart($('loss-chart'), {
    title: 'Loss',
    series: [
      { label: 'training', color: '#3b6fd4' },
      { label: 'validation', color: '#d4573b' },
    ],
  }),
  disagreement: new LineChart($('disagreement-chart'), {
    title: 'Disagreement with neighbours ‖x_i − Σ_j w_ij·x_j‖',
    series: [{ label: 'disagreement', color: '#7a4fd4' }],
  }),
  time: new LineChart($('time-chart'), {
    title: 'Step time (ms)',
    yLabel: 'ms',
    series: [
      { label: 'gradient', color: '#3b6fd4' },
      { label: 'Newton–Schulz and optimizer', color: '#2f9e6e' },
      { label: 'waiting on neighbours', color: '#c48a1a' },
    ],
  }),
  bytes: new LineChart($('bytes-chart'), {
    title: 'Gossip traffic (MB)',
    yLabel: 'MB',
    series: [
      { label: 'sent', color: '#7a4fd4' },
      { label: 'received', color: '#2a8fb0' },
    ],
  }),
};

function showError(message: string): void {
  const box = $('error');
  box.hidden = false;
  box.textContent = message;
}

function log(line: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${line}`;
  const list = $('log');
  list.append(item);
  while (list.children.length > 200) list.firstElementChild!.remove();
  list.scrollTop = list.scrollHeight;
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

function showCapabilities(c: Capabilities): void {
  text(
    'provider',
    c.provider === 'webgpu' ? 'WebGPU' : `wasm${c.fallbackReason ? ` (${c.fallbackReason})` : ''}`,
  );
  text('optimizer-backend', c.optimizerBackend);
  text('parameters', c.residentParams ? 'on the GPU (resident)' : 'copied through the CPU each step');
  text(
    'adapter',
    c.adapter
      ? [c.adapter.vendor, c.adapter.architecture, c.adapter.description].filter(Boolean).join(' · ') ||
          'unnamed'
      : '–',
  );
  text('shader-f16', c.provider === 'webgpu' ? (c.features.includes('shader-f16') ? 'yes' : 'no') : '–');
  text('capabilities', JSON.stringify({ limits: c.limits, features: c.features }, null, 2));
}

function showStep(s: StepEvent): void {
  text('step', `${s.step} / ${s.totalSteps}`);
  text('epoch', String(s.epoch));
  text('data-epochs', s.dataEpochs.toFixed(3));
  text('members', String(s.members));
  text('train-loss', s.trainLoss.toFixed(4));
  if (s.valLoss !== undefined) text('val-loss', s.valLoss.toFixed(4));
  text('bytes-sent', megabytes(s.bytesSent));
  text('bytes-received', megabytes(s.bytesReceived));
  charts.loss.push(s.step, [s.trainLoss, s.valLoss ?? null]);
  charts.time.push(s.step, [s.timing.gradientMs, s.timing.optimizerMs, s.timing.waitingMs]);
  if (s.disagreement !== undefined) {
    charts.disagreement.push(s.step, [s.disagreement]);
    text('disagreement', s.disagreement.toExponential(2));
  }
  charts.bytes.push(s.step, [s.bytesSent / 1e6, s.bytesReceived / 1e6]);
  showNeighbours(s.links);
}

function showNeighbours(links: StepEvent['links']): void {
  if (links.length === 0) return;
  const body = $('neighbours').querySelector('tbody')!;
  body.replaceChildren(
    ...links.map((link) => {
      const row = document.createElement('tr');
      row.dataset.peer = link.peer;
      const cells = [
        link.peer,
        link.state,
        link.rttMs === undefined ? '–' : `${link.rttMs.toFixed(0)} ms`,
        link.throughputBps === undefined ? '–' : `${(link.throughputBps / 1e6).toFixed(2)} MB/s`,
        String(link.drops),
      ];
      for (const [i, value] of cells.entries()) {
        const cell = document.createElement('td');
        cell.textContent = value;
        if (i === 1) cell.className = `state-${link.state}`;
        row.append(cell);
      }
      return row;
    }),
  );
}

if (!runId || !token) {
  showError(
    'This join URL has no run or no token: use the URL the signaling server printed (…/join/<run>?token=…).',
  );
} else {
  const worker = new Worker(new URL('../peer-worker.ts', import.meta.url), { type: 'module' });
  const send = (message: PageToWorker, transfer: Transferable[] = []) =>
    worker.postMessage(message, transfer);
  const rtc = new RtcHost(send);
  let state = 'starting';
  worker.onmessage = (event: MessageEvent<WorkerToPage>) => {
    const message = event.data;
    if (rtc.handle(message)) return;
    switch (message.type) {
      case 'capabilities':
        return showCapabilities(message.capabilities);
      case 'joined':
        document.title = `${message.run.name ?? message.run.id} · demuon-mesh`;
        text('run-name', message.run.name ?? `Run ${message.run.id}`);
        text('peer-id', message.peerId);
        for (const id of ['pause', 'leave']) ($(id) as HTMLButtonElement).disabled = false;
        return log(`joined run '${message.run.id}' as ${message.peerId}`);
      case 'step':
        // Also as a DOM event, for tools that drive the page (the browser benchmark listens to it).
        document.dispatchEvent(new CustomEvent('peer-step', { detail: message.step }));
        return showStep(message.step);
      case 'state':
        state = message.state;
        text('state', state);
        $('pause').textContent = state === 'paused' ? 'Resume' : 'Pause';
        if (state === 'done' || state === 'left')
          for (const id of ['pause', 'leave']) ($(id) as HTMLButtonElement).disabled = true;
        return;
      case 'log':
        return log(message.line);
      case 'error':
        showError(message.message);
        return log(`error: ${message.message}`);
    }
  };
  worker.onerror = (event) => showError(`the peer worker failed: ${event.message}`);
  $('pause').addEventListener('click', () => send({ type: state === 'paused' ? 'resume' : 'pause' }));
  $('leave').addEventListener('click', () => send({ type: 'leave' }));
  // Closing the tab ends the worker and its connections; the server notices the socket go.
  send({
    type: 'start',
    server: location.origin,
    runId,
    token,
    provider,
    resident,
    waitForPeers,
    ...(query.get('name') ? { name: query.get('name')! } : {}),
  });
}
