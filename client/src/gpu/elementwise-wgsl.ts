/**
 * WGSL of the elementwise kernels: the fused weighted sum (`combine`), AdamW, and the per-workgroup sums
 * of squares behind `sumSquares` and the Frobenius pre-scaling of Newton–Schulz. Tensors are bound as
 * `array<vec4<f32>>`: their buffers are padded to 16 bytes, so the last vec4 may run past the tensor's
 * values into its own padding, which only the reductions must mask.
 */

export const ELEMENTWISE_WORKGROUP = 256;
/** Workgroups (and so partial sums) per reduced tensor; the host or the next kernel adds the partials. */
export const SUM_PARTIALS = 64;

/**
 * out ← Σ_k c_k · term_k in the order given. `pattern[k]` is the binding that holds term k: 0 is `out`
 * itself (its old value), 1… are read-only bindings. Coefficients live in the uniform, 4 to a vec4.
 */
export function combineWgsl(pattern: readonly number[]): string {
  const reads = Math.max(0, ...pattern);
  const bindings = Array.from(
    { length: reads },
    (_, i) => `@group(0) @binding(${i + 1}) var<storage, read> t${i + 1}: array<vec4<f32>>;`,
  );
  const term = (binding: number, k: number) =>
    `params.coef[${k >> 2}].${'xyzw'[k & 3]} * ${binding === 0 ? 'old' : `t${binding}[i]`}`;
  const sum = pattern.map((b, k) => (k === 0 ? `var acc = ${term(b, k)};` : `acc += ${term(b, k)};`));
  const coefVecs = Math.max(1, Math.ceil(pattern.length / 4));
  return /* wgsl */ `
struct Params { n4: u32, coef: array<vec4<f32>, ${coefVecs}> }
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
${bindings.join('\n')}
@group(0) @binding(${reads + 1}) var<uniform> params: Params;

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${ELEMENTWISE_WORKGROUP}u;
  for (var i = gid.x; i < params.n4; i += stride) {
    ${pattern.includes(0) ? 'let old = out[i];' : ''}
    ${sum.join('\n    ')}
    out[i] = acc;
  }
}`;
}

/** Fused AdamW, the same arithmetic as CpuBackend.adamw but in f32. */
export const ADAMW_WGSL = /* wgsl */ `
struct Params { n4: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, shrink: f32, c1: f32, c2: f32 }
@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${ELEMENTWISE_WORKGROUP}u;
  for (var i = gid.x; i < params.n4; i += stride) {
    let gi = g[i];
    let mi = params.beta1 * m[i] + (1.0 - params.beta1) * gi;
    let vi = params.beta2 * v[i] + (1.0 - params.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    x[i] = x[i] * params.shrink - (params.lr * (mi / params.c1)) / (sqrt(vi / params.c2) + params.eps);
  }
}`;

/**
 * Σ x² of the first `n` values of `src`, as ${SUM_PARTIALS} workgroup partial sums written to
 * partials[slot·${SUM_PARTIALS} + workgroup]. Each workgroup reduces its strided share in shared memory.
 */
export const SUM_SQUARES_WGSL = /* wgsl */ `
struct Params { n: u32, slot: u32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> sums: array<f32, ${ELEMENTWISE_WORKGROUP}>;

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n4 = (params.n + 3u) / 4u;
  var s = 0.0;
  for (var i = wg.x * ${ELEMENTWISE_WORKGROUP}u + lid; i < n4; i += ${SUM_PARTIALS * ELEMENTWISE_WORKGROUP}u) {
    // The last vec4 may reach into the buffer's padding: only the tensor's own values count.
    let valid = vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.n);
    let x = select(vec4<f32>(0.0), src[i], valid);
    s += dot(x, x);
  }
  sums[lid] = s;
  workgroupBarrier();
  for (var width = ${ELEMENTWISE_WORKGROUP / 2}u; width > 0u; width >>= 1u) {
    if (lid < width) {
      sums[lid] += sums[lid + width];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    partials[params.slot * ${SUM_PARTIALS}u + wg.x] = sums[0];
  }
}`;
