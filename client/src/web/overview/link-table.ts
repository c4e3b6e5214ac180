/**
 * The links of the graph as a list (what the edges' tooltips say, readable on a phone too): one row per
 * drawn edge, `#link-table tbody tr[data-from][data-to][data-state]`, with data-failed="<reason>[, at
 * step k]" for a link a member gave up on, and data-route (host, srflx, prflx or relay: whether the
 * traffic crosses a TURN server) once an end reported it. The summary counts links by state, and failed links, and is
 * always up to date; the rows are filled only while the list is open.
 */
import { describeRoute, formatBytesPerSecond, formatMs } from './format';
import { type GraphEdge, graphEdges, LINK_STATE_LABELS, type LinkState } from './topology-view';
import type { RunState } from './types';

/** Rows drawn at most (a dense graph of 1024 peers has hundreds of thousands of edges). */
const MAX_ROWS = 500;

export class LinkTable {
  private last: RunState | undefined;

  constructor(
    private readonly details: HTMLDetailsElement,
    private readonly summary: HTMLElement,
    private readonly tbody: HTMLTableSectionElement,
  ) {
    details.addEventListener('toggle', () => {
      if (details.open && this.last) this.update(this.last);
    });
  }

  update(state: RunState): void {
    this.last = state;
    const edges = graphEdges(state);
    const counts = new Map<LinkState, number>();
    for (const e of edges) counts.set(e.health.state, (counts.get(e.health.state) ?? 0) + 1);
    const parts = [...counts].map(([s, n]) => `${n} ${LINK_STATE_LABELS[s]}`);
    const failed = edges.filter((e) => e.failed !== undefined).length;
    if (failed > 0) parts.push(`${failed} failed`);
    this.summary.textContent = `Links: ${edges.length}${parts.length ? ` (${parts.join(', ')})` : ''}`;
    if (!this.details.open) return;
    const rows = edges.slice(0, MAX_ROWS).map(row);
    if (edges.length > MAX_ROWS) {
      const tr = document.createElement('tr');
      const td = tr.insertCell();
      td.colSpan = 7;
      td.textContent = `… and ${edges.length - MAX_ROWS} more`;
      rows.push(tr);
    }
    this.tbody.replaceChildren(...rows);
  }
}

function row(edge: GraphEdge): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.from = edge.from.peer;
  tr.dataset.to = edge.to.peer;
  tr.dataset.state = edge.health.state;
  if (edge.health.route) tr.dataset.route = edge.health.route;
  if (edge.failed !== undefined) tr.dataset.failed = edge.failed;
  const cell = (text: string, className?: string) => {
    const td = tr.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };
  cell(`#${edge.from.index} ${edge.both ? '↔' : '→'} #${edge.to.index}`).title =
    `${edge.from.name ?? edge.from.peer} and ${edge.to.name ?? edge.to.peer}`;
  if (edge.failed === undefined)
    cell(LINK_STATE_LABELS[edge.health.state], `link-state state-${edge.health.state}`);
  else cell(`failed: ${edge.failed}`, 'link-state failed');
  cell(formatBytesPerSecond(edge.health.bytesPerSecond));
  cell(formatMs(edge.health.rttMs));
  cell(edge.health.route ?? '—', 'link-route').title = describeRoute(edge.health.route);
  cell(String(edge.health.drops));
  const w = (ws: number[]) => (ws.length === 0 ? '—' : ws.length === 1 ? ws[0].toFixed(3) : 'varies');
  cell(edge.both ? `${w(edge.weights)} / ${w(edge.reverseWeights)}` : w(edge.weights));
  return tr;
}
