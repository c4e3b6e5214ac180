/**
 * Encodes msgn by Newton–Schulz (ALGORITHMS.md) for a list of matrices into the open command batch:
 * per matrix a sum of squares and a scaled, oriented, zero-padded copy into a batch workspace; per
 * workspace the iterations, each three batched dispatches; per matrix a cropped copy back. Matrices whose
 * padded Gram-side shapes agree share one workspace and so every iteration dispatch. No readback.
 */
import { type NewtonSchulzOptions, NS_SCHEDULES, newtonSchulzTriples } from '@demuon/shared/tensor';
import type { CommandBatch } from './command-batch';
import { SUM_PARTIALS, SUM_SQUARES_WGSL } from './elementwise-wgsl';
import { STORAGE_USAGE } from './flags';
import {
  finishWgsl,
  K_TILE,
  type MatmulDims,
  type MatmulKind,
  matmulWgsl,
  matmulWorkgroups,
  type PrepareDims,
  prepareWgsl,
} from './newton-schulz-wgsl';
import { dispatch, type PipelineCache } from './pipelines';

export interface NsMatrix {
  readonly input: GPUBuffer;
  readonly output: GPUBuffer;
  readonly rows: number;
  readonly cols: number;
}

export interface NewtonSchulzTuning {
  /** Forces the tile edge (16, 32 or 64) instead of choosing it per shape. */
  readonly tile?: number;
  /** Upper bound on the bytes of one batch workspace (two X buffers, A and B); default 256 MiB. */
  readonly workspaceBytes?: number;
}

interface Workspace {
  readonly capacity: number;
  readonly x: readonly [GPUBuffer, GPUBuffer];
  readonly gram: GPUBuffer;
  readonly poly: GPUBuffer;
  readonly partials: GPUBuffer;
}

interface Group {
  readonly dims: MatmulDims;
  readonly members: NsMatrix[];
}

const TILES = [64, 32, 16] as const;
const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/**
 * The tile edge for a Gram side of r rows: the largest tile that pads r by at most 1/8 over the 16-padding
 * and still gives at least 4 tiles per side (so even 256² keeps 10 workgroups busy), within device limits.
 */
export function newtonSchulzTile(r: number, limits: GPUSupportedLimits, forced?: number): number {
  const fits = (t: number) =>
    2 * K_TILE * t * 4 <= limits.maxComputeWorkgroupStorageSize &&
    (t / 4) ** 2 <= limits.maxComputeInvocationsPerWorkgroup &&
    t / 4 <= Math.min(limits.maxComputeWorkgroupSizeX, limits.maxComputeWorkgroupSizeY);
  if (forced !== undefined) {
    if (!TILES.includes(forced as (typeof TILES)[number]) || !fits(forced)) {
      throw new Error(
        `Newton–Schulz tile must be one of ${TILES.join(', ')} within device limits, got ${forced}`,
      );
    }
    return forced;
  }
  const minimal = roundUp(r, 16);
  for (const t of TILES) {
    if (fits(t) && roundUp(r, t) <= minimal * 1.125 && roundUp(r, t) / t >= 4) return t;
  }
  return 16;
}

export class NewtonSchulzKernels {
  private readonly workspaces = new Map<string, Workspace[]>();

  constructor(
    private readonly batch: CommandBatch,
    private readonly pipelines: PipelineCache,
    private readonly tuning: NewtonSchulzTuning = {},
  ) {}

  private get device(): GPUDevice {
    return this.batch.device;
  }

  /** Encodes msgn of every matrix; outputs may be the inputs. */
  encode(mats: readonly NsMatrix[], options: NewtonSchulzOptions): void {
    const triples = newtonSchulzTriples(options);
    const { s, eps } = NS_SCHEDULES[options.schedule];
    const groups = this.group(mats);
    const taken = new Map<string, number>();
    const spaces = groups.map((g) => this.workspace(g, taken));

    for (const [gi, group] of groups.entries()) {
      for (const [slot, m] of group.members.entries()) {
        const n = m.rows * m.cols;
        this.run(
          'sumsq',
          () => SUM_SQUARES_WGSL,
          [m.input, spaces[gi].partials],
          [{ u32: n }, { u32: slot }],
          [SUM_PARTIALS],
        );
        const pd = prepareDims(m, group.dims);
        this.run(
          `ns-prepare:${m.rows}x${m.cols}:${pd.paddedRows}x${pd.paddedCols}`,
          () => prepareWgsl(pd, SUM_PARTIALS),
          [m.input, spaces[gi].partials, spaces[gi].x[0]],
          [{ u32: slot }, s, eps],
          [pd.paddedCols / 16, pd.paddedRows / 16],
        );
      }
    }

    const finals: GPUBuffer[] = [];
    for (const [gi, group] of groups.entries()) {
      const ws = spaces[gi];
      const batch = group.members.length;
      let cur = 0;
      for (const [a, b, c] of triples) {
        this.matmul('gram', group.dims, batch, [ws.x[cur], ws.gram]);
        this.matmul('square', group.dims, batch, [ws.gram, ws.poly], [a, b, c, 0]);
        this.matmul('update', group.dims, batch, [ws.poly, ws.x[cur], ws.x[1 - cur]], [a, b, c, 0]);
        cur = 1 - cur;
      }
      finals.push(ws.x[cur]);
    }

    for (const [gi, group] of groups.entries()) {
      for (const [slot, m] of group.members.entries()) {
        const pd = prepareDims(m, group.dims);
        this.run(
          `ns-finish:${m.rows}x${m.cols}:${pd.paddedRows}x${pd.paddedCols}`,
          () => finishWgsl(pd),
          [finals[gi], m.output],
          [{ u32: slot }],
          [Math.ceil(m.cols / 16), Math.ceil(m.rows / 16)],
        );
      }
    }
  }

  /** How matrices of these shapes would be grouped into batched dispatches (for tests and benchmarks). */
  plan(
    shapes: readonly (readonly [number, number])[],
  ): { tile: number; rows: number; cols: number; batch: number }[] {
    const dummy = {} as GPUBuffer;
    const groups = this.group(shapes.map(([rows, cols]) => ({ input: dummy, output: dummy, rows, cols })));
    return groups.map((g) => ({ ...g.dims, batch: g.members.length }));
  }

  destroy(): void {
    for (const list of this.workspaces.values()) for (const ws of list) destroyWorkspace(ws);
    this.workspaces.clear();
  }

  /** Matrices grouped by padded Gram-side shape, each group split to fit the device and the budget. */
  private group(mats: readonly NsMatrix[]): Group[] {
    const limits = this.device.limits;
    const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    const budget = this.tuning.workspaceBytes ?? 256 * 1024 * 1024;
    const byKey = new Map<string, Group[]>();
    for (const m of mats) {
      const [r, c] = m.rows <= m.cols ? [m.rows, m.cols] : [m.cols, m.rows];
      const tile = newtonSchulzTile(r, limits, this.tuning.tile);
      const dims = { tile, rows: roundUp(r, tile), cols: roundUp(c, tile) };
      const perMatrix = 4 * Math.max(dims.rows * dims.cols, dims.rows * dims.rows);
      if (perMatrix > maxBinding || 4 * m.rows * m.cols > maxBinding) {
        throw new Error(
          `msgn: a ${m.rows}×${m.cols} matrix exceeds this device's storage binding size (${maxBinding} bytes)`,
        );
      }
      const [gx, gy] = matmulWorkgroups('gram', dims, 1);
      if (Math.max(gx, gy) > limits.maxComputeWorkgroupsPerDimension) {
        throw new Error(`msgn: a ${m.rows}×${m.cols} matrix needs more workgroups than the device allows`);
      }
      const workspacePerMatrix = 8 * (dims.rows * dims.cols + dims.rows * dims.rows);
      const cap = Math.max(
        1,
        Math.min(
          limits.maxComputeWorkgroupsPerDimension,
          Math.floor(maxBinding / perMatrix),
          Math.floor(budget / workspacePerMatrix),
        ),
      );
      const key = `${tile}:${dims.rows}x${dims.cols}`;
      const list = byKey.get(key) ?? [];
      byKey.set(key, list);
      const last = list[list.length - 1];
      if (last && last.members.length < cap) last.members.push(m);
      else list.push({ dims, members: [m] });
    }
    return [...byKey.values()].flat();
  }

  /** A workspace for the group not yet taken in this call, grown when too small. */
  private workspace(group: Group, taken: Map<string, number>): Workspace {
    const { tile, rows, cols } = group.dims;
    const key = `${tile}:${rows}x${cols}`;
    const index = taken.get(key) ?? 0;
    taken.set(key, index + 1);
    const list = this.workspaces.get(key) ?? [];
    this.workspaces.set(key, list);
    const need = group.members.length;
    if (list[index] && list[index].capacity >= need) return list[index];
    if (list[index]) {
      const old = list[index];
      for (const b of [...old.x, old.gram, old.poly, old.partials]) this.batch.destroyAfterSubmit(b);
    }
    const buffer = (label: string, floats: number) =>
      this.device.createBuffer({ label: `ns ${label} ${key}`, size: 4 * floats, usage: STORAGE_USAGE });
    const ws: Workspace = {
      capacity: need,
      x: [buffer('x0', need * rows * cols), buffer('x1', need * rows * cols)],
      gram: buffer('gram', need * rows * rows),
      poly: buffer('poly', need * rows * rows),
      partials: buffer('partials', need * SUM_PARTIALS),
    };
    list[index] = ws;
    return ws;
  }

  private matmul(
    kind: MatmulKind,
    dims: MatmulDims,
    batch: number,
    buffers: GPUBuffer[],
    coeffs?: readonly number[],
  ): void {
    const key = `ns-${kind}:${dims.tile}:${dims.rows}x${dims.cols}`;
    this.run(key, () => matmulWgsl(kind, dims), buffers, coeffs, matmulWorkgroups(kind, dims, batch));
  }

  private run(
    key: string,
    wgsl: () => string,
    buffers: readonly GPUBuffer[],
    params: Parameters<CommandBatch['param']>[0] | undefined,
    workgroups: readonly [number, number?, number?],
  ): void {
    const pipeline = this.pipelines.get(key, wgsl);
    const slot = params ? [this.batch.param(params)] : [];
    dispatch(this.batch.computePass(), this.device, pipeline, [...buffers, ...slot], workgroups);
  }
}

function prepareDims(m: NsMatrix, dims: MatmulDims): PrepareDims {
  return {
    rows: m.rows,
    cols: m.cols,
    paddedRows: dims.rows,
    paddedCols: dims.cols,
    transposed: m.rows > m.cols,
  };
}

function destroyWorkspace(ws: Workspace): void {
  for (const b of [...ws.x, ws.gram, ws.poly, ws.partials]) b.destroy();
}
