/**
 * Live line charts on uPlot: one x axis (the step), a few named series, redrawn as points arrive and
 * resized with their container, so the dashboards read on a laptop and on a phone. The step axis ticks
 * whole steps only, and a chart with nothing to draw says so instead of showing an empty frame.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface LineChartSeries {
  label: string;
  color: string;
  dash?: number[];
  /** Stroke width in CSS pixels (default 2). */
  width?: number;
}

export interface LineChartOptions {
  readonly title: string;
  readonly series: readonly LineChartSeries[];
  readonly yLabel?: string;
  readonly height?: number;
  /** Areas filled between two series (indices into `series`), e.g. a min/max spread around a mean. */
  readonly bands?: readonly { upper: number; lower: number; fill: string }[];
  /** Shown over the plot while no series has a value, e.g. "no validation loss yet". */
  readonly emptyText?: string;
}

/** Tick spacings of the step axis: 1, 2, 5, 10, 20, 50, … (steps are whole numbers, never 0.5). */
const STEP_INCREMENTS = Array.from({ length: 10 }, (_, k) => [1, 2, 5].map((m) => m * 10 ** k)).flat();

export class LineChart {
  private readonly plot: uPlot;
  private readonly xs: number[] = [];
  private readonly ys: (number | null)[][];
  private readonly placeholder: HTMLElement;

  constructor(parent: HTMLElement, options: LineChartOptions) {
    this.ys = options.series.map(() => []);
    const width = () => Math.max(240, parent.clientWidth);
    this.plot = new uPlot(
      {
        title: options.title,
        width: width(),
        height: options.height ?? 200,
        scales: { x: { time: false } },
        axes: [
          { label: 'step', incrs: STEP_INCREMENTS },
          { label: options.yLabel ?? '', size: 60 },
        ],
        series: [
          { label: 'step' },
          ...options.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            dash: s.dash,
            width: s.width ?? 2,
            spanGaps: true,
          })),
        ],
        // uPlot numbers its series from 1 (0 is the x axis).
        bands: options.bands?.map((b) => ({ series: [b.upper + 1, b.lower + 1], fill: b.fill })),
      },
      [this.xs, ...this.ys],
      parent,
    );
    this.placeholder = emptyPlaceholder(options.emptyText ?? 'no data yet');
    this.plot.over.append(this.placeholder);
    new ResizeObserver(() => this.plot.setSize({ width: width(), height: options.height ?? 200 })).observe(
      parent,
    );
  }

  /** Adds a point (null where a series has no value at this step) and redraws. */
  push(x: number, values: readonly (number | null | undefined)[]): void {
    this.xs.push(x);
    for (const [i, ys] of this.ys.entries()) ys.push(values[i] ?? null);
    this.redraw();
  }

  /** Replaces every point. */
  set(xs: readonly number[], series: readonly (readonly (number | null)[])[]): void {
    // Copied in place (uPlot holds these arrays), without spreading: long runs have many points.
    this.xs.length = 0;
    for (const x of xs) this.xs.push(x);
    for (const [i, ys] of this.ys.entries()) {
      ys.length = 0;
      for (const y of series[i] ?? []) ys.push(y);
    }
    this.redraw();
  }

  private redraw(): void {
    this.plot.setData([this.xs, ...this.ys]);
    const hasData = this.ys.some((ys) => ys.some((y) => y !== null && Number.isFinite(y)));
    // `display`, not `hidden`: the inline display below would override the hidden attribute.
    this.placeholder.style.display = hasData ? 'none' : 'flex';
  }
}

/**
 * The words over an empty plot area. Styled inline: the chart is used on pages with different style
 * sheets, and uPlot's own style sheet knows nothing of it.
 */
function emptyPlaceholder(text: string): HTMLElement {
  const note = document.createElement('div');
  note.className = 'chart-empty';
  note.textContent = text;
  Object.assign(note.style, {
    position: 'absolute',
    inset: '0',
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'center',
    color: '#7b8794',
    fontSize: '0.9rem',
    pointerEvents: 'none',
  });
  return note;
}
