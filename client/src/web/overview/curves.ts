/**
 * The aggregate curves: validation loss across nodes per step (mean, with the min–max band and ± one
 * standard deviation), training loss (mean with its min–max band), and the consensus error when the
 * reports carry one, else the spread of the validation losses across nodes (max − min and the standard
 * deviation), which then says so.
 */
import { LineChart } from '../charts';
import type { MetricsHistory, StepStats } from './history';

const BLUE = '#2563eb';
const ORANGE = '#d9480f';
const GREY = '#7b8794';

export class Curves {
  private readonly val: LineChart;
  private readonly train: LineChart;
  private spread: LineChart | undefined;
  private consensus: LineChart | undefined;
  private pending = false;

  constructor(
    private readonly elements: {
      val: HTMLElement;
      train: HTMLElement;
      spread: HTMLElement;
      spreadTitle: HTMLElement;
      spreadNote: HTMLElement;
      /** Shown while no node has reported anything. */
      empty: HTMLElement;
    },
    private readonly history: MetricsHistory,
  ) {
    this.val = new LineChart(elements.val, {
      title: 'Validation loss across nodes',
      yLabel: 'loss',
      series: [
        { label: 'mean', color: BLUE, width: 2.5 },
        { label: 'min', color: 'rgba(37, 99, 235, 0.45)', width: 1 },
        { label: 'max', color: 'rgba(37, 99, 235, 0.45)', width: 1 },
        { label: '+1 std', color: GREY, dash: [4, 4], width: 1 },
        { label: '−1 std', color: GREY, dash: [4, 4], width: 1 },
      ],
      bands: [{ upper: 2, lower: 1, fill: 'rgba(37, 99, 235, 0.15)' }],
      height: 240,
      emptyText: 'no validation loss yet',
    });
    this.train = new LineChart(elements.train, {
      title: 'Training loss across nodes',
      yLabel: 'loss',
      series: [
        { label: 'mean', color: ORANGE, width: 2.5 },
        { label: 'min', color: 'rgba(217, 72, 15, 0.4)', width: 1 },
        { label: 'max', color: 'rgba(217, 72, 15, 0.4)', width: 1 },
      ],
      bands: [{ upper: 2, lower: 1, fill: 'rgba(217, 72, 15, 0.12)' }],
      height: 240,
      emptyText: 'no training loss yet',
    });
  }

  /** Redraws on the next animation frame (at most once per frame however many points arrived). */
  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw(): void {
    this.elements.empty.hidden = this.history.size > 0;
    const val = this.history.stats('val');
    this.val.set(steps(val), [
      val.map((s) => s.mean),
      val.map((s) => s.min),
      val.map((s) => s.max),
      val.map((s) => s.mean + s.std),
      val.map((s) => s.mean - s.std),
    ]);
    const train = this.history.stats('train');
    this.train.set(steps(train), [
      train.map((s) => s.mean),
      train.map((s) => s.min),
      train.map((s) => s.max),
    ]);
    this.drawThird(val);
  }

  /** The nodes' disagreement once reports carry it; until then the spread of the validation losses. */
  private drawThird(val: StepStats[]): void {
    const { spread: parent, spreadTitle, spreadNote } = this.elements;
    if (this.history.hasConsensus) {
      if (!this.consensus) {
        parent.replaceChildren();
        this.spread = undefined;
        parent.dataset.kind = 'consensus';
        spreadTitle.textContent = 'Disagreement with neighbours';
        spreadNote.textContent =
          'Mean, min and max across nodes of ‖x_i − Σ_j w_ij·x_j‖: how far each node is from its ' +
          'neighbourhood’s average when it gossips its parameters (0 at consensus).';
        this.consensus = new LineChart(parent, {
          title: 'Disagreement with neighbours',
          yLabel: 'norm',
          series: [
            { label: 'mean', color: BLUE, width: 2.5 },
            { label: 'min', color: GREY, width: 1 },
            { label: 'max', color: GREY, width: 1 },
          ],
          bands: [{ upper: 2, lower: 1, fill: 'rgba(123, 135, 148, 0.15)' }],
          height: 200,
          emptyText: 'no disagreement reported yet',
        });
      }
      const c = this.history.stats('consensus');
      this.consensus.set(steps(c), [c.map((s) => s.mean), c.map((s) => s.min), c.map((s) => s.max)]);
      return;
    }
    if (!this.spread) {
      parent.dataset.kind = 'val-spread';
      spreadTitle.textContent = 'Disagreement between nodes';
      spreadNote.textContent =
        'The metrics carry no consensus error, so this shows the spread of the validation losses across ' +
        'nodes instead: max − min and the standard deviation, per step.';
      this.spread = new LineChart(parent, {
        title: 'Spread of validation loss across nodes',
        yLabel: 'loss',
        series: [
          { label: 'max − min', color: '#7c3aed', width: 2 },
          { label: 'std', color: '#0f766e', width: 2 },
        ],
        height: 200,
        emptyText: 'no validation losses from two nodes at one step yet',
      });
    }
    // A spread needs two nodes: steps only one node has reported yet are left out.
    const pairs = val.filter((s) => s.n >= 2);
    this.spread.set(steps(pairs), [pairs.map((s) => s.max - s.min), pairs.map((s) => s.std)]);
  }
}

function steps(stats: readonly StepStats[]): number[] {
  return stats.map((s) => s.step);
}
