/**
 * Static SVG line charts for simulator reports. Written by hand because the charting libraries at hand
 * (uPlot among them) draw into a browser DOM, while these files are written by a Node process.
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
}

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const label = (v: number) =>
  Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : String(v);

/** Shortens text to at most `chars` characters, marking the cut. */
function fit(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

export function lineChartSvg(options: ChartOptions): string {
  const { width = 720, height = 420, logY = false } = options;
  const margin = { left: 70, right: 180, top: 40, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const ty = (y: number) => (logY ? Math.log10(y) : y);
  const points = options.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(ty(y)));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => ty(y));
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const px = (x: number) => margin.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const py = (y: number) => margin.top + plotH - ((ty(y) - y0) / (y1 - y0)) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="22" font-size="14">${escapeXml(fit(options.title, Math.floor((width - 20) / 7.5)))}</text>`,
  ];
  for (const t of ticks(x0, x1)) {
    parts.push(
      `<line x1="${px(t)}" x2="${px(t)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#eee"/>`,
      `<text x="${px(t)}" y="${margin.top + plotH + 16}" text-anchor="middle">${label(t)}</text>`,
    );
  }
  for (const t of ticks(y0, y1)) {
    const y = margin.top + plotH - ((t - y0) / (y1 - y0)) * plotH;
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`,
      `<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${label(logY ? 10 ** t : t)}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}${logY ? ' (log)' : ''}</text>`,
  );
  for (const [k, s] of options.series.entries()) {
    const color = PALETTE[k % PALETTE.length];
    // Past the palette, colours repeat with a dash pattern so that every series stays distinct.
    const dash = k >= PALETTE.length ? ' stroke-dasharray="6 3"' : '';
    const path = s.points
      .filter(([, y]) => Number.isFinite(ty(y)))
      .map(([x, y], i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join('');
    if (path) parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.8"${dash}/>`);
    const ly = margin.top + 14 + k * 18;
    parts.push(
      `<line x1="${width - margin.right + 12}" x2="${width - margin.right + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${dash}/>`,
      `<text x="${width - margin.right + 38}" y="${ly}">${escapeXml(s.name)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}
