/**
 * The table of members, one row per peer in index order, kept across updates (keyed by peer id):
 *
 *   tr[data-peer="<id>"] (class `away` while away, `selected` when chosen in the graph)
 *     td[data-field="index|peer|name|platform|backend|server|step|activity|epoch|train-loss|val-loss|
 *                    bytes-out|bytes-in|timing|status"]
 *
 * The server column (the signaling process a member's socket is connected to) is hidden unless some
 * member has one: a server that is one process says nothing there.
 *
 * The activity cell says what the member is doing (its heartbeat's status: "gossip · waiting for ab12
 * 4.1 s", "gradient", "barrier") with data-phase set to the phase (data-waiting="true" while others hold
 * it up), or "—" when the server sends none.
 *
 * Every cell also carries `data-label`, which the narrow layout shows in front of the value (each row
 * becomes a card there, so the table never scrolls sideways on a phone).
 */
import { formatBytes, formatLoss, formatMs, type LossScale } from './format';
import type { LatestLoss } from './history';
import { describeStatus, statusOf } from './peer-status';
import type { MemberState, RunState } from './types';

export const PEER_COLUMNS = [
  ['index', '#'],
  ['peer', 'Peer'],
  ['name', 'Name'],
  ['platform', 'Platform'],
  ['backend', 'Backend'],
  ['server', 'Server'],
  ['step', 'Step'],
  ['activity', 'Activity'],
  ['epoch', 'Epoch'],
  ['train-loss', 'Train loss'],
  ['val-loss', 'Val loss'],
  ['bytes-out', 'Sent'],
  ['bytes-in', 'Received'],
  ['timing', 'Step time (ms): gradient / optimizer / waiting'],
  ['status', 'Status'],
] as const;

export type PeerField = (typeof PEER_COLUMNS)[number][0];

/** How long a member that came back after a server restart is shown as "resumed". */
const RESUMED_MS = 15_000;

type Row = { tr: HTMLTableRowElement; cells: Record<PeerField, HTMLTableCellElement> };

export class PeerTable {
  private readonly tbody: HTMLTableSectionElement;
  private readonly serverHeader: HTMLTableCellElement;
  /** Whether the server column shows: some member has a server. */
  private showServers = false;
  private readonly empty: HTMLTableRowElement;
  private readonly rows = new Map<string, Row>();
  private readonly wasAway = new Set<string>();
  private readonly resumedAt = new Map<string, number>();
  private selected: string | undefined;
  /** How the activity cells name the neighbour a member waits for: its name, else its id. */
  private nameOf: (peer: string) => string = (peer) => peer;

  constructor(
    table: HTMLTableElement,
    private readonly onSelect: (peer: string) => void = () => {},
  ) {
    const head = table.createTHead();
    head.replaceChildren();
    const headRow = head.insertRow();
    for (const [field, label] of PEER_COLUMNS) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.dataset.field = field;
      th.textContent = field === 'timing' ? 'Step time (ms)' : label;
      if (field === 'timing') th.title = 'gradient / optimizer / waiting, in ms';
      if (field === 'server') th.title = 'the signaling server process the peer is connected to';
      headRow.append(th);
    }
    this.serverHeader = headRow.querySelector('[data-field="server"]')!;
    this.serverHeader.hidden = true;
    this.tbody = table.tBodies[0] ?? table.createTBody();
    this.empty = document.createElement('tr');
    this.empty.className = 'empty';
    const cell = this.empty.insertCell();
    cell.colSpan = PEER_COLUMNS.length;
    cell.textContent = 'No peers have joined this run yet.';
    this.tbody.append(this.empty);
  }

  select(peer: string | undefined, scroll = false): void {
    this.selected = peer;
    for (const [id, row] of this.rows) row.tr.classList.toggle('selected', id === peer);
    if (peer && scroll) this.rows.get(peer)?.tr.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  update(
    state: RunState,
    losses: (peer: string) => LatestLoss,
    scale: LossScale | undefined,
    byVal: boolean,
  ) {
    const now = Date.now();
    const members = [...state.members].sort((a, b) => a.index - b.index);
    this.showServers = members.some((m) => m.server !== undefined);
    this.serverHeader.hidden = !this.showServers;
    const names = new Map(members.map((m) => [m.peer, m.name ?? m.peer]));
    this.nameOf = (peer) => names.get(peer) ?? peer;
    const seen = new Set<string>();
    let previous: HTMLTableRowElement | undefined;
    for (const m of members) {
      seen.add(m.peer);
      const row = this.rows.get(m.peer) ?? this.createRow(m.peer);
      // Keep rows in index order without re-inserting rows already in place.
      const expected = previous ? previous.nextElementSibling : this.tbody.firstElementChild;
      if (expected !== row.tr) this.tbody.insertBefore(row.tr, expected);
      previous = row.tr;

      if (m.away) this.wasAway.add(m.peer);
      else if (this.wasAway.delete(m.peer)) this.resumedAt.set(m.peer, now);
      this.fill(row, m, losses(m.peer), scale, byVal, now, state.epoch);
    }
    for (const [peer, row] of this.rows) {
      if (seen.has(peer)) continue;
      row.tr.remove();
      this.rows.delete(peer);
      this.wasAway.delete(peer);
      this.resumedAt.delete(peer);
    }
    this.empty.hidden = members.length > 0;
    if (members.length === 0) this.tbody.append(this.empty);
  }

  private createRow(peer: string): Row {
    const tr = document.createElement('tr');
    tr.dataset.peer = peer;
    const cells = {} as Record<PeerField, HTMLTableCellElement>;
    for (const [field, label] of PEER_COLUMNS) {
      const td = document.createElement(field === 'peer' ? 'th' : 'td') as HTMLTableCellElement;
      if (field === 'peer') td.setAttribute('scope', 'row');
      td.dataset.field = field;
      td.dataset.label = label;
      cells[field] = td;
      tr.append(td);
    }
    tr.addEventListener('click', () => this.onSelect(peer));
    const row = { tr, cells };
    this.rows.set(peer, row);
    return row;
  }

  private fill(
    row: Row,
    m: MemberState,
    loss: LatestLoss,
    scale: LossScale | undefined,
    byVal: boolean,
    now: number,
    runEpoch: number,
  ): void {
    const { cells } = row;
    row.tr.classList.toggle('away', m.away);
    row.tr.classList.toggle('selected', m.peer === this.selected);

    const colour = scale?.color(byVal ? loss.val?.value : loss.train?.value) ?? '#d5dae1';
    if (changed(cells.index, `${m.index} ${colour}`)) {
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colour;
      swatch.setAttribute('aria-hidden', 'true');
      const index = document.createElement('span');
      index.append(swatch, String(m.index));
      cells.index.replaceChildren(index);
    }

    text(cells.peer, m.peer);
    text(cells.name, m.name ?? '—');
    text(cells.platform, m.platform);
    text(cells.backend, m.backend);
    cells.server.hidden = !this.showServers;
    text(cells.server, m.server ?? '—');
    text(cells.step, m.step === null ? '—' : String(m.step));
    const activity = describeStatus(statusOf(m), this.nameOf);
    text(cells.activity, activity.text);
    cells.activity.dataset.phase = activity.phase;
    cells.activity.dataset.waiting = String(activity.waiting);
    cells.activity.title = activity.title;
    const epoch = m.latest?.epoch;
    text(cells.epoch, epoch === undefined ? '—' : String(epoch));
    cells.epoch.title = epoch !== undefined && epoch < runEpoch ? `the run is at epoch ${runEpoch}` : '';
    text(cells['train-loss'], formatLoss(loss.train?.value));
    cells['train-loss'].title = loss.train ? `at step ${loss.train.step}` : '';
    text(cells['val-loss'], formatLoss(loss.val?.value));
    cells['val-loss'].title = loss.val ? `at step ${loss.val.step}` : 'no validation loss reported yet';
    text(cells['bytes-out'], formatBytes(m.latest?.bytesSent));
    text(cells['bytes-in'], formatBytes(m.latest?.bytesReceived));
    this.fillTiming(cells.timing, m);

    const resumed = this.resumedAt.get(m.peer);
    let status = 'live';
    let label = 'live';
    let title = 'connected';
    if (m.away) {
      status = 'away';
      label = 'away';
      title = 'restored after a server restart; not resumed yet (dropped if it does not come back in time)';
    } else if (resumed !== undefined && now - resumed < RESUMED_MS) {
      status = 'resumed';
      label = 'resumed';
      title = 'came back after a server restart, in its old place';
    } else if (m.step === null) {
      status = 'joining';
      label = 'joining';
      title = 'joined, no step reported yet';
    }
    cells.status.dataset.status = status;
    cells.status.title = title;
    text(cells.status, label);
  }

  private fillTiming(cell: HTMLTableCellElement, m: MemberState): void {
    const g = m.latest?.gradientMs;
    const o = m.latest?.optimizerMs;
    const w = m.latest?.waitingMs;
    if (!changed(cell, `${g} ${o} ${w}`)) return;
    if (g === undefined && o === undefined && w === undefined) {
      text(cell, '—');
      cell.title = '';
      return;
    }
    const parts = [g ?? 0, o ?? 0, w ?? 0];
    const total = parts[0] + parts[1] + parts[2];
    const bar = document.createElement('span');
    bar.className = 'timing-bar';
    bar.setAttribute('aria-hidden', 'true');
    for (const [i, kind] of ['gradient', 'optimizer', 'waiting'].entries()) {
      const seg = document.createElement('span');
      seg.className = `seg ${kind}`;
      seg.style.flexGrow = String(total > 0 ? parts[i] / total : 0);
      bar.append(seg);
    }
    const label = document.createElement('span');
    label.className = 'timing-text';
    label.textContent = `${formatMs(g)} / ${formatMs(o)} / ${formatMs(w)}`;
    cell.replaceChildren(bar, label);
    cell.title = `gradient ${formatMs(g)} ms, optimizer ${formatMs(o)} ms, waiting ${formatMs(w)} ms`;
  }
}

/** Whether `key` differs from what the cell shows (and remembers it): skips rebuilding unchanged cells. */
function changed(cell: HTMLElement, key: string): boolean {
  if (cell.dataset.key === key) return false;
  cell.dataset.key = key;
  return true;
}

function text(cell: HTMLElement, value: string): void {
  if (cell.textContent !== value) cell.textContent = value;
}
