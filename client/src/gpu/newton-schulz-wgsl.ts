/**
 * WGSL of the Newton–Schulz kernels. Matrices live zero-padded to multiples of the tile size T, batched
 * along the workgroup id z, so the matmuls need no bounds checks: zero rows and columns stay zero through
 * every iteration and are cropped at the end.
 *
 * The three matmuls of an iteration, each a T×T output tile per workgroup of (T/4)² threads, 4×4 outputs
 * per thread held in four vec4 registers, operands staged through shared memory KT columns at a time:
 * - gram:   A = X·Xᵀ. Only tiles on or above the diagonal run; each writes its mirror too.
 * - square: B = b·A + c·A·A. A is symmetric, so A·A is a Gram matrix as well (upper tiles, mirrored),
 *           and A's rows serve as its columns: both operands load as contiguous vec4 rows.
 * - update: X' = a·X + B·X, with B's rows read as its columns for the same reason.
 */

/** Columns of the operands staged per step; a multiple of 4 and at most T. */
export const K_TILE = 16;

export type MatmulKind = 'gram' | 'square' | 'update';

export interface MatmulDims {
  /** Tile edge T (16, 32 or 64). */
  readonly tile: number;
  /** Padded rows of X (the Gram side). */
  readonly rows: number;
  /** Padded columns of X. */
  readonly cols: number;
}

/** Workgroups to dispatch for one kernel: upper-triangle tiles for the symmetric outputs, all for update. */
export function matmulWorkgroups(kind: MatmulKind, d: MatmulDims, batch: number): [number, number, number] {
  const nt = d.rows / d.tile;
  if (kind === 'update') return [d.cols / d.tile, nt, batch];
  return [(nt * (nt + 1)) / 2, 1, batch];
}

export function matmulWgsl(kind: MatmulKind, d: MatmulDims): string {
  const T = d.tile;
  const TQ = T / 4;
  const threads = TQ * TQ;
  // Operand (lhs, rhs) vec4 counts per shared tile, and loads per thread for the direct (row) loads.
  const tileVecs = K_TILE * TQ;
  const loads = tileVecs / threads;
  const k = kind === 'gram' ? d.cols : d.rows;
  const rhsLd = kind === 'update' ? d.cols : d.rows;
  const outLd = kind === 'update' ? d.cols : d.rows;

  const bindings = {
    gram: `
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;`,
    square: `
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> coeffs: Coeffs;`,
    update: `
@group(0) @binding(0) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> coeffs: Coeffs;`,
  }[kind];

  // gram: X is row-major, so a thread reads a 4×4 block (4 rows, 4 consecutive k) and stores it transposed.
  const gramLoad = `
    for (var blk = tid; blk < ${TQ * (K_TILE / 4)}u; blk += ${threads}u) {
      let i4 = blk / ${K_TILE / 4}u;
      let kq = blk % ${K_TILE / 4}u;
      let aAt = base + ((rowBase + 4u * i4) * ${k}u + k0) / 4u + kq;
      let bAt = base + ((colBase + 4u * i4) * ${k}u + k0) / 4u + kq;
      let a0 = x[aAt]; let a1 = x[aAt + ${k / 4}u]; let a2 = x[aAt + ${k / 2}u]; let a3 = x[aAt + ${(3 * k) / 4}u];
      let b0 = x[bAt]; let b1 = x[bAt + ${k / 4}u]; let b2 = x[bAt + ${k / 2}u]; let b3 = x[bAt + ${(3 * k) / 4}u];
      let s = 4u * kq * ${TQ}u + i4;
      lhs[s] = vec4<f32>(a0.x, a1.x, a2.x, a3.x);
      lhs[s + ${TQ}u] = vec4<f32>(a0.y, a1.y, a2.y, a3.y);
      lhs[s + ${2 * TQ}u] = vec4<f32>(a0.z, a1.z, a2.z, a3.z);
      lhs[s + ${3 * TQ}u] = vec4<f32>(a0.w, a1.w, a2.w, a3.w);
      rhs[s] = vec4<f32>(b0.x, b1.x, b2.x, b3.x);
      rhs[s + ${TQ}u] = vec4<f32>(b0.y, b1.y, b2.y, b3.y);
      rhs[s + ${2 * TQ}u] = vec4<f32>(b0.z, b1.z, b2.z, b3.z);
      rhs[s + ${3 * TQ}u] = vec4<f32>(b0.w, b1.w, b2.w, b3.w);
    }`;
  // square/update: row k of the (symmetric) left operand is its column k, so every load is a plain vec4 row.
  const lhsName = kind === 'square' ? 'a' : 'b';
  const rhsName = kind === 'square' ? 'a' : 'x';
  const rhsBase = kind === 'update' ? 'xBase' : 'base';
  const rowLoad = `
    for (var l = 0u; l < ${loads}u; l++) {
      let idx = tid + l * ${threads}u;
      let kk = idx / ${TQ}u;
      let q = idx % ${TQ}u;
      lhs[idx] = ${lhsName}[base + ((k0 + kk) * ${d.rows}u + rowBase) / 4u + q];
      rhs[idx] = ${rhsName}[${rhsBase} + ((k0 + kk) * ${rhsLd}u + colBase) / 4u + q];
    }`;

  const tileOrigin =
    kind === 'update'
      ? `let rowBase = wg.y * ${T}u;
  let colBase = wg.x * ${T}u;`
      : `let tile = upperTile(wg.x);
  let rowBase = tile.x * ${T}u;
  let colBase = tile.y * ${T}u;`;
  const bases = {
    gram: `let base = wg.z * ${(d.rows * d.cols) / 4}u;
  let outBase = wg.z * ${(d.rows * d.rows) / 4}u;`,
    square: `let base = wg.z * ${(d.rows * d.rows) / 4}u;
  let outBase = base;`,
    update: `let base = wg.z * ${(d.rows * d.rows) / 4}u;
  let xBase = wg.z * ${(d.rows * d.cols) / 4}u;
  let outBase = xBase;`,
  }[kind];

  // Output element (row, col) of the 4×4 block: acc[r] holds row r, 4 columns.
  const at = (r: string) => `outBase + ((rowBase + 4u * lid.y + ${r}) * ${outLd}u + colBase) / 4u + lid.x`;
  const epilogue = {
    gram: `acc`,
    square: `array<vec4<f32>, 4>(${[0, 1, 2, 3]
      .map((r) => `coeffs.b * a[${at(`${r}u`)}] + coeffs.c * acc[${r}]`)
      .join(', ')})`,
    update: `array<vec4<f32>, 4>(${[0, 1, 2, 3]
      .map((r) => `coeffs.a * x[${at(`${r}u`)}] + acc[${r}]`)
      .join(', ')})`,
  }[kind];
  // The mirror tile (J, I) holds the transpose of the block: column c of the block becomes a vec4 row.
  const mirror =
    kind === 'update'
      ? ''
      : `
  if (tile.x != tile.y) {
    for (var c = 0u; c < 4u; c++) {
      let row = colBase + 4u * lid.x + c;
      dst[outBase + (row * ${outLd}u + rowBase) / 4u + lid.y] = vec4<f32>(res[0][c], res[1][c], res[2][c], res[3][c]);
    }
  }`;

  return /* wgsl */ `
struct Coeffs { a: f32, b: f32, c: f32, pad: f32 }
${bindings}
var<workgroup> lhs: array<vec4<f32>, ${tileVecs}>;
var<workgroup> rhs: array<vec4<f32>, ${tileVecs}>;

// Tile (I, J), I ≤ J, of the w-th upper-triangle workgroup, row by row.
fn upperTile(w: u32) -> vec2<u32> {
  var i = 0u;
  var rem = w;
  loop {
    if (rem < ${d.rows / T}u - i) { break; }
    rem -= ${d.rows / T}u - i;
    i++;
  }
  return vec2<u32>(i, i + rem);
}

@compute @workgroup_size(${TQ}, ${TQ})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  ${tileOrigin}
  ${bases}
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var k0 = 0u; k0 < ${k}u; k0 += ${K_TILE}u) {
    ${kind === 'gram' ? gramLoad : rowLoad}
    workgroupBarrier();
    for (var kk = 0u; kk < ${K_TILE}u; kk++) {
      let l = lhs[kk * ${TQ}u + lid.y];
      let r = rhs[kk * ${TQ}u + lid.x];
      acc[0] = fma(vec4<f32>(l.x), r, acc[0]);
      acc[1] = fma(vec4<f32>(l.y), r, acc[1]);
      acc[2] = fma(vec4<f32>(l.z), r, acc[2]);
      acc[3] = fma(vec4<f32>(l.w), r, acc[3]);
    }
    workgroupBarrier();
  }
  var res = ${epilogue};
  for (var r = 0u; r < 4u; r++) {
    dst[${at('r')}] = res[r];
  }${mirror}
}`;
}

export interface PrepareDims {
  /** The input's own shape. */
  readonly rows: number;
  readonly cols: number;
  /** Padded X (rows × cols after orienting so that rows ≤ cols). */
  readonly paddedRows: number;
  readonly paddedCols: number;
  /** Whether X is the input's transpose (the input is tall). */
  readonly transposed: boolean;
}

/**
 * X[slot] ← G / (‖G‖_F·s + ε), oriented and zero-padded. ‖G‖² is the sum of the partials that the
 * sum-of-squares kernel left for this slot. One thread per padded element, 16×16 per workgroup.
 */
export function prepareWgsl(d: PrepareDims, partials: number): string {
  const [r, c] = d.transposed ? [d.cols, d.rows] : [d.rows, d.cols];
  const source = d.transposed ? `g[j * ${d.cols}u + i]` : `g[i * ${d.cols}u + j]`;
  return /* wgsl */ `
struct Params { slot: u32, s: f32, eps: f32 }
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
var<workgroup> inv: f32;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) {
    var sum = 0.0;
    for (var p = 0u; p < ${partials}u; p++) {
      sum += partials[params.slot * ${partials}u + p];
    }
    inv = 1.0 / (sqrt(sum) * params.s + params.eps);
  }
  workgroupBarrier();
  let i = gid.y;
  let j = gid.x;
  var v = 0.0;
  if (i < ${r}u && j < ${c}u) {
    v = ${source} * inv;
  }
  x[params.slot * ${d.paddedRows * d.paddedCols}u + i * ${d.paddedCols}u + j] = v;
}`;
}

/** out ← X[slot], cropped and transposed back to the input's shape. One thread per output element. */
export function finishWgsl(d: PrepareDims): string {
  const source = d.transposed ? `j * ${d.paddedCols}u + i` : `i * ${d.paddedCols}u + j`;
  return /* wgsl */ `
struct Params { slot: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y;
  let j = gid.x;
  if (i < ${d.rows}u && j < ${d.cols}u) {
    out[i * ${d.cols}u + j] = x[params.slot * ${d.paddedRows * d.paddedCols}u + ${source}];
  }
}`;
}
