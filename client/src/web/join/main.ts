/**
 * The join page (/join/<runId>?token=…): starts the peer worker, hosts its WebRTC connections and shows
 * this peer's dashboard. `?provider=wasm|webgpu` forces an execution provider, `?name=` names the peer and
 * `?wait=N` starts training once the run has N peers (default 2: alone, a peer has no one to gossip with);
 * `?resident=0` copies parameters through the CPU each step even on WebGPU (for comparison).
 *
 * Stable hooks for tests:
 *   #state[data-kind]      what the peer is doing, in words (describeActivity); data-kind is the activity's
 *                          kind: starting | waiting-for-peers | bootstrapping | training |
 *                          waiting-for-neighbour | changing-epoch | rejoining | paused | done | left
 *   #step ("k / K"), #epoch, #members, #train-loss, #val-loss, #provider, #peer-id, #disagreement
 *   #neighbours tbody tr[data-peer] (throughput in bytes per second, "456 kB/s")
 *   #loss-chart, #disagreement-chart, #time-chart, #bytes-chart (each shows .chart-empty until it has data)
 *   #log li > time, .log-text, .log-count ("×12" for a line repeated 12 times, else empty)
 *   #pause (its text is Resume while paused), #leave, #error
 *   #checkpoint (the slot this tab saves in, and the last save), and the Try box (see try-model.ts)
 */
import { LineChart } from '../charts';
import type { Capabilities, ModelSnapshot, PageToWorker, StepEvent, WorkerToPage } from '../messages';
import { describeRoute, formatBytes, formatBytesPerSecond } from '../overview/format';
import { RtcHost } from '../rtc-host';
import { SignalingHost } from '../socket-host';
import { TryModel } from '../try-model';
import { ActivityView, controlsFor } from './activity-view';
import { LogView } from './log-view';

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
/** Where this tab keeps its checkpoint slot of the run across reloads (sessionStorage is per tab). */
const slotStorageKey = `demuon-checkpoint-slot:${runId}`;

const charts = {
  loss: new LineChart($('loss-chart'), {
    title: 'Loss',
    series: [
      { label: 'training', color: '#3b6fd4' },
      { label: 'validation', color: '#d4573b' },
    ],
    emptyText: 'no loss yet: the curve starts with the first step',
  }),
  disagreement: new LineChart($('disagreement-chart'), {
    title: 'Disagreement with neighbours ‖x_i − Σ_j w_ij·x_j‖',
    series: [{ label: 'disagreement', color: '#7a4fd4' }],
    emptyText: 'no gossip of parameters yet',
  }),
  time: new LineChart($('time-chart'), {
    title: 'Step time (ms)',
    yLabel: 'ms',
    series: [
      { label: 'gradient', color: '#3b6fd4' },
      { label: 'Newton–Schulz and optimizer', color: '#2f9e6e' },
      { label: 'waiting on neighbours', color: '#c48a1a' },
    ],
    emptyText: 'no steps yet',
  }),
  bytes: new LineChart($('bytes-chart'), {
    title: 'Gossip traffic (MB)',
    yLabel: 'MB',
    series: [
      { label: 'sent', color: '#7a4fd4' },
      { label: 'received', color: '#2a8fb0' },
    ],
    emptyText: 'no gossip traffic yet',
  }),
};

function showError(message: string): void {
  const box = $('error');
  box.hidden = false;
  box.textContent = message;
}

const logView = new LogView($('log'));
const log = (line: string) => logView.add(line);

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
  text('bytes-sent', formatBytes(s.bytesSent));
  text('bytes-received', formatBytes(s.bytesReceived));
  // A non-finite loss is shown as NaN above and left out of the chart.
  const plotted = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);
  charts.loss.push(s.step, [plotted(s.trainLoss), plotted(s.valLoss)]);
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
        link.route ?? '–',
        link.rttMs === undefined ? '–' : `${link.rttMs.toFixed(0)} ms`,
        link.bytesPerSecond === undefined ? '–' : formatBytesPerSecond(link.bytesPerSecond),
        String(link.drops),
      ];
      for (const [i, value] of cells.entries()) {
        const cell = document.createElement('td');
        cell.textContent = value;
        if (i === 1) cell.className = `state-${link.state}`;
        if (i === 2) cell.title = describeRoute(link.route);
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
  // The signaling socket lives here, not in the worker: its heartbeats go out while a step computes.
  const signaling = new SignalingHost(location.origin, send);
  const activity = new ActivityView($('state'));
  let joined = false;
  const updateControls = () => {
    const controls = controlsFor(activity.kind, joined);
    const pause = $('pause') as HTMLButtonElement;
    pause.textContent = controls.pauseLabel;
    pause.disabled = !controls.pauseEnabled;
    ($('leave') as HTMLButtonElement).disabled = !controls.leaveEnabled;
  };
  const checkpoint = { slot: '', saved: '' };
  const showCheckpoint = () =>
    text('checkpoint', [checkpoint.slot, checkpoint.saved].filter(Boolean).join(' · '));
  // Parameters asked of the worker for the Try box, by request id.
  const asked = new Map<number, { resolve: (s: ModelSnapshot) => void; reject: (e: Error) => void }>();
  let nextAsk = 0;
  new TryModel(
    $('try-box'),
    () =>
      new Promise((resolve, reject) => {
        const id = nextAsk++;
        asked.set(id, { resolve, reject });
        send({ type: 'parameters-request', id });
      }),
  );
  worker.onmessage = (event: MessageEvent<WorkerToPage>) => {
    const message = event.data;
    if (rtc.handle(message) || signaling.handle(message)) return;
    switch (message.type) {
      case 'capabilities':
        return showCapabilities(message.capabilities);
      case 'joined':
        document.title = `${message.run.name ?? message.run.id} · demuon-mesh`;
        text('run-name', message.run.name ?? `Run ${message.run.id}`);
        text('peer-id', message.peerId);
        joined = true;
        updateControls();
        return log(`joined run '${message.run.id}' as ${message.peerId}`);
      case 'step':
        // Also as a DOM event, for tools that drive the page (the browser benchmark listens to it).
        document.dispatchEvent(new CustomEvent('peer-step', { detail: message.step }));
        return showStep(message.step);
      case 'activity':
        activity.show(message.activity);
        return updateControls();
      case 'log':
        return log(message.line);
      case 'error':
        showError(message.message);
        return log(`error: ${message.message}`);
      case 'checkpoint-slot':
        if ('unavailable' in message) checkpoint.slot = 'none: this tab saves no checkpoints';
        else {
          sessionStorage.setItem(slotStorageKey, String(message.slot));
          checkpoint.slot = `slot ${message.slot}`;
          $('checkpoint').title = message.location;
        }
        return showCheckpoint();
      case 'checkpoint-saved':
        checkpoint.saved = `step ${message.step} saved at ${new Date().toLocaleTimeString()} (${formatBytes(message.bytes)} in ${message.ms.toFixed(0)} ms)`;
        return showCheckpoint();
      case 'parameters': {
        const waiting = asked.get(message.id);
        asked.delete(message.id);
        if ('error' in message) return waiting?.reject(new Error(message.error));
        return waiting?.resolve(message.snapshot);
      }
    }
  };
  worker.onerror = (event) => {
    showError(`the peer worker failed: ${event.message}`);
    for (const waiting of asked.values()) waiting.reject(new Error('the peer worker failed'));
    asked.clear();
  };
  $('pause').addEventListener('click', () => send({ type: activity.kind === 'paused' ? 'resume' : 'pause' }));
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
    ...(sessionStorage.getItem(slotStorageKey) !== null
      ? { checkpointSlot: Number(sessionStorage.getItem(slotStorageKey)) }
      : {}),
  });
}
