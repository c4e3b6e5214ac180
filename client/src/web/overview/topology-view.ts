/**
 * The run's topology as an SVG graph: members on a circle in index order (a grid for a torus, the hub in
 * the middle for a star), each node coloured by its latest validation loss (training loss while no node
 * has a validation loss yet), each edge by the health of its link as the two ends report it. Elements are
 * kept across updates (keyed by peer and by pair), so a live run redraws without flicker.
 *
 *   circle[data-peer][data-index][data-loss]         one per member (data-away="true" while away)
 *   .edge[data-from][data-to][data-state][data-drops]  one per linked pair: a <line>, or for a torus's
 *                                                     wrap-around edges a <path> of two stubs; class
 *                                                     `failed` and data-failed="<reason>[, at step k]"
 *                                                     when a member gave up on the link (dashed red)
 */
import { describeFailure, type FailedLink, failedLinksOf } from './failed-links';
import { formatBytesPerSecond, formatLoss, formatMs, LossScale, viridisGradient } from './format';
import type { LatestLoss } from './history';
import type { LinkRoute, LinkStats, MemberState, RunState } from './types';

const SVG = 'http://www.w3.org/2000/svg';

export type LinkState = 'open' | 'degraded' | 'connecting' | 'closed' | 'unknown';

export type LinkHealth = {
  /** `degraded`: open, but frames were dropped. `unknown`: neither end has reported the link yet. */
  state: LinkState;
  drops: number;
  /** Bytes per second over the link, both directions together. */
  bytesPerSecond?: number;
  rttMs?: number;
  /** `relay` when the traffic crosses a TURN server (see LinkRoute); absent until an end reports it. */
  route?: LinkRoute;
};

export const LINK_STATE_LABELS: Record<LinkState, string> = {
  open: 'open',
  degraded: 'open, with drops',
  connecting: 'connecting',
  closed: 'closed',
  unknown: 'not reported yet',
};

/** Both ends' reports of the link between a and b, combined: the worse state, summed drops. */
export function linkHealth(a: MemberState | undefined, b: MemberState | undefined): LinkHealth {
  const reports: LinkStats[] = [];
  const ab = a && b ? a.links.find((l) => l.peer === b.peer) : undefined;
  const ba = a && b ? b.links.find((l) => l.peer === a.peer) : undefined;
  if (ab) reports.push(ab);
  if (ba) reports.push(ba);
  if (reports.length === 0) return { state: 'unknown', drops: 0 };
  const drops = reports.reduce((sum, r) => sum + r.drops, 0);
  const max = (values: (number | undefined)[]) => {
    const known = values.filter((v): v is number => v !== undefined);
    return known.length > 0 ? Math.max(...known) : undefined;
  };
  let state: LinkState = 'open';
  if (reports.some((r) => r.state === 'closed')) state = 'closed';
  else if (reports.some((r) => r.state === 'connecting')) state = 'connecting';
  else if (drops > 0) state = 'degraded';
  return {
    state,
    drops,
    // Each end reports the traffic of the whole link, so the two are not added.
    bytesPerSecond: max(reports.map((r) => r.bytesPerSecond)),
    rttMs: max(reports.map((r) => r.rttMs)),
    route: mostIndirect(reports.map((r) => r.route)),
  };
}

/** How far from direct a route is: the two ends of a link agree, save while its route changes. */
const INDIRECTNESS: Record<LinkRoute, number> = { host: 0, prflx: 1, srflx: 2, relay: 3 };

function mostIndirect(routes: readonly (LinkRoute | undefined)[]): LinkRoute | undefined {
  let worst: LinkRoute | undefined;
  for (const route of routes)
    if (route !== undefined && (worst === undefined || INDIRECTNESS[route] > INDIRECTNESS[worst]))
      worst = route;
  return worst;
}

/** One drawn edge: an unordered pair, with the directions the topology uses and their weights. */
export type GraphEdge = {
  key: string;
  /** The lower-indexed member, or the sender of a one-way edge. */
  from: MemberState;
  to: MemberState;
  /** Whether `to` also sends to `from`. */
  both: boolean;
  weights: number[];
  reverseWeights: number[];
  health: LinkHealth;
  /** Why (and at which step) a member gave up on this link, when one did. */
  failed?: string;
};

export function graphEdges(state: RunState): GraphEdge[] {
  const byPeer = new Map(state.members.map((m) => [m.peer, m]));
  const edges = new Map<string, GraphEdge>();
  for (const link of state.links) {
    const a = byPeer.get(link.from);
    const b = byPeer.get(link.to);
    if (!a || !b || a === b) continue;
    const [lo, hi] = a.index < b.index ? [a, b] : [b, a];
    const key = `${lo.peer} ${hi.peer}`;
    const existing = edges.get(key);
    if (existing) {
      existing.both = true;
      if (existing.from === a) existing.weights = link.weights;
      else existing.reverseWeights = link.weights;
      continue;
    }
    edges.set(key, {
      key,
      from: a,
      to: b,
      both: false,
      weights: link.weights,
      reverseWeights: [],
      health: linkHealth(a, b),
    });
  }
  // A pair linked both ways is drawn from its lower-indexed end.
  for (const edge of edges.values()) {
    if (edge.both && edge.from.index > edge.to.index) {
      [edge.from, edge.to] = [edge.to, edge.from];
      [edge.weights, edge.reverseWeights] = [edge.reverseWeights, edge.weights];
    }
  }
  markFailed(edges, failedLinksOf(state), byPeer);
  return [...edges.values()];
}

/**
 * Marks the failed links on their edges. A failed pair the current epoch no longer links (the server
 * repaired the graph around it) is still drawn, without weights, so the failure stays visible.
 */
function markFailed(
  edges: Map<string, GraphEdge>,
  failed: readonly FailedLink[],
  byPeer: ReadonlyMap<string, MemberState>,
): void {
  for (const link of failed) {
    const a = byPeer.get(link.from);
    const b = byPeer.get(link.to);
    if (!a || !b || a === b) continue;
    const [lo, hi] = a.index < b.index ? [a, b] : [b, a];
    // The same key as graphEdges gives the pair.
    const key = `${lo.peer} ${hi.peer}`;
    const edge = edges.get(key);
    if (edge) edge.failed = describeFailure(link);
    else
      edges.set(key, {
        key,
        from: lo,
        to: hi,
        both: true,
        weights: [],
        reverseWeights: [],
        health: linkHealth(lo, hi),
        failed: describeFailure(link),
      });
  }
}

type Point = { x: number; y: number };
type Layout = {
  box: { x: number; y: number; width: number; height: number };
  pos: Point[];
  r: number;
  grid?: { rows: number; cols: number; cell: number };
  /** Whether the members' names are drawn, in what font size, and at most how many characters. */
  names: boolean;
  nameFont: number;
  nameChars: number;
};

const R = 400;

/** Average advance of a character of the names, relative to the font size. */
const CHAR_WIDTH = 0.56;
const NAME_CHARS = 16;

/**
 * Where the nodes go: a grid for torus:RxC (R, C ≥ 2), the hub in the middle for a star, else a circle.
 * `longestName` (in characters) leaves room for the names beside the circle.
 */
export function layout(topology: string, n: number, longestName = NAME_CHARS): Layout {
  const names = n <= 24;
  const torus = /^torus(?::(\d+)x(\d+))?$/.exec(topology);
  if (torus && n >= 4) {
    const shape = torus[1] ? { rows: Number(torus[1]), cols: Number(torus[2]) } : squarest(n);
    if (shape.rows * shape.cols === n && shape.rows >= 2 && shape.cols >= 2) {
      const cell = Math.min((2 * R) / shape.cols, (2 * R) / shape.rows);
      const r = clamp(0.22 * cell, 5, 42);
      const nameFont = Math.min(36, 0.15 * cell);
      const pos = Array.from({ length: n }, (_, i) => ({
        x: (i % shape.cols) * cell,
        y: Math.floor(i / shape.cols) * cell,
      }));
      const pad = 0.5 * cell;
      const width = (shape.cols - 1) * cell;
      const height = (shape.rows - 1) * cell;
      const padY = pad + (names ? nameFont : 0);
      return {
        box: { x: -pad, y: -pad, width: width + 2 * pad, height: height + pad + padY },
        pos,
        r,
        grid: { ...shape, cell },
        names,
        nameFont,
        nameChars: Math.max(4, Math.floor((0.95 * cell) / (CHAR_WIDTH * nameFont))),
      };
    }
  }
  const star = topology === 'star' && n >= 3;
  const ring = star ? n - 1 : n;
  const r = n === 1 ? 42 : clamp(0.3 * ((2 * Math.PI * R) / Math.max(ring, 2)), 5, 42);
  const pos = Array.from({ length: n }, (_, i) => {
    if (n === 1 || (star && i === 0)) return { x: 0, y: 0 };
    const k = star ? i - 1 : i;
    const angle = -Math.PI / 2 + (2 * Math.PI * k) / ring;
    return { x: R * Math.cos(angle), y: R * Math.sin(angle) };
  });
  const nameFont = 36;
  const nameChars = Math.min(NAME_CHARS, Math.max(1, longestName));
  const padX = r + (names ? 20 + nameChars * CHAR_WIDTH * nameFont : 12);
  const padY = r + (names ? 30 + nameFont : 12);
  return {
    box: { x: -R - padX, y: -R - padY, width: 2 * (R + padX), height: 2 * (R + padY) },
    pos,
    r,
    names,
    nameFont,
    nameChars: NAME_CHARS,
  };
}

function squarest(n: number): { rows: number; cols: number } {
  let rows = Math.floor(Math.sqrt(n));
  while (n % rows !== 0) rows--;
  return { rows, cols: n / rows };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

type NodeElements = {
  group: SVGGElement;
  circle: SVGCircleElement;
  index: SVGTextElement;
  title: SVGTitleElement;
};
type NameElement = SVGTextElement;
type EdgeElements = { el: SVGLineElement | SVGPathElement; title: SVGTitleElement; wrap: boolean };

export class TopologyView {
  private readonly svg: SVGSVGElement;
  private readonly edgeLayer: SVGGElement;
  private readonly nodeLayer: SVGGElement;
  private readonly nameLayer: SVGGElement;
  private readonly empty: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly nodes = new Map<string, NodeElements>();
  private readonly names = new Map<string, NameElement>();
  private readonly edges = new Map<string, EdgeElements>();
  private selected: string | undefined;

  /** `onSelect` is called with a member's id when its node is clicked (or activated by keyboard). */
  constructor(
    container: HTMLElement,
    private readonly onSelect: (peer: string) => void = () => {},
  ) {
    this.svg = svg('svg', {
      role: 'img',
      'aria-labelledby': 'topology-heading',
      preserveAspectRatio: 'xMidYMid meet',
    });
    const defs = svg('defs');
    for (const state of Object.keys(LINK_STATE_LABELS)) {
      const marker = svg('marker', {
        id: `arrow-${state}`,
        viewBox: '0 0 10 10',
        refX: '9',
        refY: '5',
        markerWidth: '4',
        markerHeight: '4',
        orient: 'auto-start-reverse',
        class: `arrow state-${state}`,
      });
      marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
      defs.append(marker);
    }
    this.edgeLayer = svg('g', { class: 'edges' });
    this.nodeLayer = svg('g', { class: 'nodes' });
    this.nameLayer = svg('g', { class: 'names' });
    this.svg.append(defs, this.edgeLayer, this.nodeLayer, this.nameLayer);
    this.empty = el('p', 'topology-empty', 'No members yet: the graph appears when peers join.');
    this.legend = el('div', 'topology-legend');
    container.append(this.svg, this.empty, this.legend);
  }

  select(peer: string | undefined): void {
    this.selected = peer;
    for (const [id, node] of this.nodes) node.group.classList.toggle('selected', id === peer);
  }

  update(state: RunState, losses: (peer: string) => LatestLoss): void {
    const members = [...state.members].sort((a, b) => a.index - b.index);
    const n = members.length;
    const longest = Math.max(0, ...members.map((m) => (m.name ?? m.peer).length));
    const lay = layout(state.topology, n, longest);
    this.svg.setAttribute('viewBox', `${lay.box.x} ${lay.box.y} ${lay.box.width} ${lay.box.height}`);
    this.svg.classList.toggle('hidden', n === 0);
    this.empty.hidden = n > 0;

    // Colour by validation loss once any node has one, else by training loss.
    const byVal = members.some((m) => losses(m.peer).val !== undefined);
    const lossOf = (m: MemberState) => (byVal ? losses(m.peer).val?.value : losses(m.peer).train?.value);
    const scale = LossScale.of(members.map(lossOf));
    const pos = new Map(members.map((m, i) => [m.peer, lay.pos[i]]));

    this.updateEdges(state, lay, pos);
    this.updateNodes(members, lay, pos, scale, lossOf, byVal, losses);
    this.updateLegend(scale, byVal, state, n);
  }

  private updateNodes(
    members: MemberState[],
    lay: Layout,
    pos: Map<string, Point>,
    scale: LossScale | undefined,
    lossOf: (m: MemberState) => number | undefined,
    byVal: boolean,
    losses: (peer: string) => LatestLoss,
  ): void {
    const seen = new Set<string>();
    for (const m of members) {
      seen.add(m.peer);
      let node = this.nodes.get(m.peer);
      if (!node) {
        const group = svg('g', { class: 'node', tabindex: '0', role: 'button' });
        const circle = svg('circle', { 'data-peer': m.peer });
        const index = svg('text', {
          class: 'node-index',
          'text-anchor': 'middle',
          'dominant-baseline': 'central',
        });
        const title = svg('title');
        group.append(title, circle, index);
        const choose = () => this.onSelect(m.peer);
        group.addEventListener('click', choose);
        group.addEventListener('keydown', (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            choose();
          }
        });
        this.nodeLayer.append(group);
        node = { group, circle, index, title };
        this.nodes.set(m.peer, node);
      }
      const p = pos.get(m.peer)!;
      const loss = lossOf(m);
      const fill = scale?.color(loss);
      setAttrs(node.circle, {
        cx: fmt(p.x),
        cy: fmt(p.y),
        r: fmt(lay.r),
        'data-index': String(m.index),
        'data-loss': loss === undefined ? '' : String(loss),
        'data-away': String(m.away),
        fill: fill ?? '#d5dae1',
      });
      node.group.classList.toggle('away', m.away);
      node.group.classList.toggle('no-loss', fill === undefined);
      node.group.classList.toggle('selected', m.peer === this.selected);
      const showIndex = lay.r >= 14;
      node.index.textContent = showIndex ? String(m.index) : '';
      setAttrs(node.index, {
        x: fmt(p.x),
        y: fmt(p.y),
        'font-size': fmt(lay.r * 0.95),
        fill: fill ? scale!.textColor(loss) : '#1d2430',
      });
      const l = losses(m.peer);
      node.title.textContent = [
        `#${m.index} ${m.name ?? m.peer}${m.name ? ` (${m.peer})` : ''}${m.away ? ' — away' : ''}`,
        `step ${m.step ?? '—'} · ${m.platform}/${m.backend}`,
        `validation loss ${formatLoss(l.val?.value)}${l.val ? ` (step ${l.val.step})` : ''}`,
        `training loss ${formatLoss(l.train?.value)}`,
        byVal ? '' : 'coloured by training loss (no validation loss yet)',
      ]
        .filter(Boolean)
        .join('\n');
      node.group.setAttribute('aria-label', node.title.textContent.split('\n')[0]);

      let name = this.names.get(m.peer);
      if (lay.names) {
        if (!name) {
          name = svg('text', { class: 'node-name' });
          this.nameLayer.append(name);
          this.names.set(m.peer, name);
        }
        name.textContent = short(m.name ?? m.peer, lay.nameChars);
        const placed = namePosition(p, lay);
        setAttrs(name, {
          x: fmt(placed.x),
          y: fmt(placed.y),
          'text-anchor': placed.anchor,
          'dominant-baseline': 'central',
          'font-size': fmt(lay.nameFont),
        });
      } else if (name) {
        name.remove();
        this.names.delete(m.peer);
      }
    }
    for (const [peer, node] of this.nodes) {
      if (seen.has(peer)) continue;
      node.group.remove();
      this.nodes.delete(peer);
    }
    for (const [peer, name] of this.names) {
      if (seen.has(peer)) continue;
      name.remove();
      this.names.delete(peer);
    }
  }

  private updateEdges(state: RunState, lay: Layout, pos: Map<string, Point>): void {
    const seen = new Set<string>();
    for (const edge of graphEdges(state)) {
      const a = pos.get(edge.from.peer)!;
      const b = pos.get(edge.to.peer)!;
      const wrap = lay.grid !== undefined && isWrap(edge.from.index, edge.to.index, lay.grid);
      seen.add(edge.key);
      let drawn = this.edges.get(edge.key);
      if (drawn && drawn.wrap !== wrap) {
        drawn.el.remove();
        drawn = undefined;
      }
      if (!drawn) {
        const elem = svg(wrap ? 'path' : 'line', { class: 'edge' }) as SVGLineElement | SVGPathElement;
        const title = svg('title');
        elem.append(title);
        this.edgeLayer.append(elem);
        drawn = { el: elem, title, wrap };
        this.edges.set(edge.key, drawn);
      }
      const { health } = edge;
      const width = 1.5 + Math.min(3.5, Math.log10(1 + (health.bytesPerSecond ?? 0) / 10_000));
      setAttrs(drawn.el, {
        'data-from': edge.from.peer,
        'data-to': edge.to.peer,
        'data-state': health.state,
        'data-drops': String(health.drops),
        'data-directed': String(!edge.both),
        // In bytes per second.
        'data-throughput':
          health.bytesPerSecond === undefined ? '' : String(Math.round(health.bytesPerSecond)),
        'data-failed': edge.failed ?? '',
        class: `edge state-${health.state}${edge.failed === undefined ? '' : ' failed'}`,
        'stroke-width': width.toFixed(2),
        'marker-end': edge.both ? '' : `url(#arrow-${health.state})`,
      });
      if (wrap) {
        // A torus's wrap-around edge: a stub leaving each end away from the other, as on a drawn torus.
        const stub = 0.42 * lay.grid!.cell;
        const d = unit(b, a);
        drawn.el.setAttribute(
          'd',
          `M ${fmt(a.x)} ${fmt(a.y)} L ${fmt(a.x + d.x * stub)} ${fmt(a.y + d.y * stub)} ` +
            `M ${fmt(b.x)} ${fmt(b.y)} L ${fmt(b.x - d.x * stub)} ${fmt(b.y - d.y * stub)}`,
        );
      } else {
        // Ends trimmed to the node's rim (and the arrow's length for one-way edges).
        const d = unit(a, b);
        const start = lay.r;
        const end = lay.r + (edge.both ? 0 : 4);
        setAttrs(drawn.el, {
          x1: fmt(a.x + d.x * start),
          y1: fmt(a.y + d.y * start),
          x2: fmt(b.x - d.x * end),
          y2: fmt(b.y - d.y * end),
        });
      }
      const arrow = edge.both ? '↔' : '→';
      drawn.title.textContent = [
        `#${edge.from.index} ${arrow} #${edge.to.index}: ${LINK_STATE_LABELS[health.state]}`,
        edge.failed === undefined ? '' : `failed: ${edge.failed}`,
        `throughput ${formatBytesPerSecond(health.bytesPerSecond)} · rtt ${formatMs(health.rttMs)} ms · drops ${health.drops}${health.route ? ` · route ${health.route}` : ''}`,
        `weight ${weights(edge.weights)}${edge.both ? ` / ${weights(edge.reverseWeights)}` : ''}`,
      ]
        .filter(Boolean)
        .join('\n');
    }
    for (const [key, drawn] of this.edges) {
      if (seen.has(key)) continue;
      drawn.el.remove();
      this.edges.delete(key);
    }
  }

  private updateLegend(scale: LossScale | undefined, byVal: boolean, state: RunState, n: number): void {
    this.legend.replaceChildren();
    if (n === 0) return;
    const loss = el('div', 'legend-loss');
    loss.append(el('span', 'legend-title', byVal ? 'Validation loss' : 'Training loss (no validation yet)'));
    if (scale) {
      const bar = el('span', 'legend-gradient');
      bar.style.background = viridisGradient();
      loss.append(
        el('span', 'legend-value', formatLoss(scale.min)),
        bar,
        el('span', 'legend-value', formatLoss(scale.max)),
      );
    } else {
      loss.append(el('span', 'legend-value', 'no reports yet'));
    }
    const links = el('div', 'legend-links');
    for (const s of ['open', 'degraded', 'connecting', 'closed', 'unknown'] as const)
      links.append(legendLink(`edge state-${s}`, LINK_STATE_LABELS[s]));
    if (failedLinksOf(state).length > 0) links.append(legendLink('edge failed', 'failed'));
    const notes: string[] = [];
    if (state.period > 1)
      notes.push(`time-varying graph (period ${state.period}): the union of its edges is drawn`);
    if (state.linksTruncated) notes.push('dense graph: only part of its edges are listed by the server');
    if (n > 0 && state.links.length === 0 && n > 1) notes.push('no edges in this epoch');
    this.legend.append(loss, links);
    for (const note of notes) this.legend.append(el('p', 'legend-note', note));
  }
}

/** A legend entry: a short sample of an edge drawn with `edgeClass`, and its meaning. */
function legendLink(edgeClass: string, label: string): HTMLElement {
  const item = el('span', 'legend-link');
  const sample = svg('svg', { viewBox: '0 0 24 8', width: '24', height: '8', 'aria-hidden': 'true' });
  sample.append(svg('line', { x1: '1', y1: '4', x2: '23', y2: '4', class: edgeClass, 'stroke-width': '2' }));
  item.append(sample, document.createTextNode(label));
  return item;
}

function isWrap(i: number, j: number, grid: { rows: number; cols: number }): boolean {
  const dr = Math.abs(Math.floor(i / grid.cols) - Math.floor(j / grid.cols));
  const dc = Math.abs((i % grid.cols) - (j % grid.cols));
  return dr > 1 || dc > 1;
}

function namePosition(p: Point, lay: Layout): Point & { anchor: string } {
  if (lay.grid) return { x: p.x, y: p.y + lay.r + 0.7 * lay.nameFont, anchor: 'middle' };
  const len = Math.hypot(p.x, p.y);
  if (len < 1) return { x: p.x, y: p.y + lay.r + 26, anchor: 'middle' };
  const d = { x: p.x / len, y: p.y / len };
  const gap = lay.r + 14;
  const anchor = d.x > 0.3 ? 'start' : d.x < -0.3 ? 'end' : 'middle';
  return { x: p.x + d.x * gap, y: p.y + d.y * (gap + 10), anchor };
}

function unit(a: Point, b: Point): Point {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  return { x: dx / len, y: dy / len };
}

function weights(ws: readonly number[]): string {
  if (ws.length === 0) return '—';
  const distinct = [...new Set(ws.map((w) => w.toFixed(3)))];
  return distinct.length === 1
    ? distinct[0]
    : `${distinct.slice(0, 4).join(', ')}${distinct.length > 4 ? ', …' : ''}`;
}

function short(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function fmt(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  setAttrs(node, attrs);
  return node;
}

function setAttrs(node: Element, attrs: Record<string, string>): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === '') node.removeAttribute(k);
    else if (node.getAttribute(k) !== v) node.setAttribute(k, v);
  }
}

function el(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
