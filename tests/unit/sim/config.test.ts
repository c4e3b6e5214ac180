import { describe, expect, it } from 'vitest';
import { runExperiment } from '../../../client/src/node/experiment';
import { QUICK_SIMULATION, simulationConfig } from '../../../client/src/node/simulation';
import { lineChartSvg } from '../../../client/src/node/svg-plot';

describe('simulation config', () => {
  it('fills defaults and validates the algorithm', () => {
    const c = simulationConfig({ steps: 10, algorithm: { name: 'gt-nsgdm', lr: { eta: 1 } } });
    expect(c).toMatchObject({ preset: 'tiny', nodes: 8, topology: 'ring', data: 'iid', batch: 8 });
    expect(c.algorithm).toMatchObject({ name: 'gt-nsgdm', beta: 0.8 });
    expect(simulationConfig(QUICK_SIMULATION).steps).toBe(100);
  });

  it.each([
    [{ steps: 0, algorithm: { name: 'dsgd', lr: { eta: 1 } } }, /steps/],
    [{ steps: 5, nodes: 0, algorithm: { name: 'dsgd', lr: { eta: 1 } } }, /nodes/],
    [{ steps: 5, preset: 'huge', algorithm: { name: 'dsgd', lr: { eta: 1 } } }, /preset/],
    [{ steps: 5, algorithm: { name: 'sgd', lr: { eta: 1 } } }, /algorithm/],
    [{ steps: 5, algorithm: { name: 'dsgd', lr: { eta: 1 } }, lr: 3 }, /Unrecognized key.*lr/],
    [{ steps: 5, topology: 'moebius', algorithm: { name: 'dsgd', lr: { eta: 1 } } }, /topology: .*moebius/],
    [
      { steps: 5, nodes: 3, topology: 'torus:2x2', algorithm: { name: 'dsgd', lr: { eta: 1 } } },
      /topology: .*4 nodes/,
    ],
    [{ steps: 5, data: 'dirichlet:-1', algorithm: { name: 'dsgd', lr: { eta: 1 } } }, /data: .*alpha/],
  ])('rejects %o', (input, message) => {
    expect(() => simulationConfig(input)).toThrow(message);
  });
});

describe('experiments', () => {
  const log = () => {};
  it('are validated whole before any run starts', async () => {
    await expect(runExperiment({ name: 'x', base: {}, runs: [] }, '/nonexistent', { log })).rejects.toThrow(
      /runs/,
    );
    const bad = {
      name: 'x',
      base: { steps: 5, algorithm: { name: 'demuon', lr: { eta: 1 } } },
      runs: [
        { label: 'ok', etas: [0.1] },
        { label: 'broken', etas: [0.1], overrides: { topology: 'moebius' } },
      ],
    };
    await expect(runExperiment(bad, '/nonexistent', { log })).rejects.toThrow(
      /run 'broken' with η 0.1: .*moebius/,
    );
    const badAlgorithm = {
      ...bad,
      runs: [{ label: 'broken', etas: [0.1], overrides: { algorithm: { beta: 2 } } }],
    };
    await expect(runExperiment(badAlgorithm, '/nonexistent', { log })).rejects.toThrow(
      /run 'broken' with η 0.1: .*beta/,
    );
    await expect(
      runExperiment({ ...bad, runs: [{ label: 'a b', etas: [1] }] }, '/nonexistent', { log }),
    ).rejects.toThrow(/labels may use/);
  });
});

describe('SVG line charts', () => {
  it('draws one path per series with a legend, and skips points a log axis cannot show', () => {
    const svg = lineChartSvg({
      title: 'loss <&>',
      xLabel: 'step',
      yLabel: 'loss',
      logY: true,
      series: [
        {
          name: 'a',
          points: [
            [0, 1],
            [1, 0.1],
            [2, 0],
          ],
        },
        {
          name: 'b',
          points: [
            [0, 2],
            [2, 0.5],
          ],
        },
      ],
    });
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('loss &lt;&amp;&gt;');
    expect(svg).toContain('>a</text>');
    expect(svg).not.toContain('NaN');
  });
});
