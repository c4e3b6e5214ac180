/**
 * Live line charts on uPlot: one x axis (the step), a few named series, redrawn as points arrive and
 * resized with their container, so the dashboards read on a laptop and on a phone.
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
}

export class LineChart {
  private readonly plot: uPlot;
  private readonly xs: number[] = [];
  private readonly ys: (number | null)[][];

  constructor(parent: HTMLElement, options: LineChartOptions) {
    this.ys = options.series.map(() => []);
    const width = () => Math.max(240, parent.clientWidth);
    this.plot = new uPlot(
      {
        title: options.title,
        width: width(),
        height: options.height ?? 200,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, { label: options.yLabel ?? '', size: 60 }],
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
    new ResizeObserver(() => this.plot.setSize({ width: width(), height: options.height ?? 200 })).observe(
      parent,
    );
  }

  /** Adds a point (null where a series has no value at this step) and redraws. */
  push(x: number, values: readonly (number | null | undefined)[]): void {
    this.xs.push(x);
    for (const [i, ys] of this.ys.entries()) ys.push(values[i] ?? null);
    this.plot.setData([this.xs, ...this.ys]);
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
    this.plot.setData([this.xs, ...this.ys]);
  }
}
