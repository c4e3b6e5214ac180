/**
 * A small typed ONNX graph builder. Every value carries a static shape and element type, so shape
 * mistakes surface while the graph is built (with the op's name) rather than inside a runtime, and the
 * autodiff can reduce broadcast gradients back to their input shapes without asking the runtime.
 *
 * Two layers:
 * - `node(...)` emits one raw ONNX node (used by forward lowerings and gradient rules alike);
 * - `apply(...)` runs a differentiable op from the table in ops.ts and records it on the tape that
 *   `backward` walks in reverse.
 */
import type { OpAttrs, OpName } from './ops';
import { OPS } from './ops';
import { type Shape, size } from './shape';

export type { Shape } from './shape';

export type DType = 'float32' | 'int32' | 'int64' | 'bool';

export interface Value {
  readonly name: string;
  readonly shape: Shape;
  readonly dtype: DType;
}

export type AttrValue = number | number[] | { float: number };

export interface NodeIR {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly name: string;
}

export interface Initializer {
  readonly value: Value;
  readonly data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

export interface TapeEntry {
  readonly op: OpName;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: OpAttrs;
}

export class Graph {
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly nodes: NodeIR[] = [];
  readonly initializers: Initializer[] = [];
  readonly tape: TapeEntry[] = [];
  private readonly names = new Set<string>();
  private readonly constantCache = new Map<string, Value>();
  private counter = 0;

  /** A graph input fed at run time (parameters, token ids, targets). */
  input(name: string, shape: Shape, dtype: DType = 'float32'): Value {
    const value = this.declare(name, shape, dtype);
    this.inputs.push(value);
    return value;
  }

  /** Marks a value as a graph output under the given name (an Identity node when it must be renamed). */
  output(value: Value, name = value.name): Value {
    const out =
      name === value.name
        ? value
        : this.node('Identity', [value], [{ shape: value.shape, dtype: value.dtype }], {}, name)[0];
    this.outputs.push(out);
    return out;
  }

  /** A constant tensor stored as an initializer; identical constants are shared. */
  constant(data: ArrayLike<number>, shape: Shape, dtype: DType = 'float32'): Value {
    if (data.length !== size(shape)) {
      throw new Error(`constant of shape [${shape}] needs ${size(shape)} values, got ${data.length}`);
    }
    const key = data.length <= 16 ? `${dtype}:${shape}:${Array.from(data)}` : null;
    const cached = key && this.constantCache.get(key);
    if (cached) return cached;
    const value = this.declare(this.fresh('const'), shape, dtype);
    this.initializers.push({ value, data: typedArray(data, dtype) });
    if (key) this.constantCache.set(key, value);
    return value;
  }

  /**
   * A named float32 initializer holding a copy of `data` (trained weights). Never shared with another
   * constant: `constant` keys its cache by the printed values, which cannot tell -0 from 0, and a weight
   * should keep its own name in the file.
   */
  weight(name: string, data: Float32Array, shape: Shape): Value {
    if (data.length !== size(shape)) {
      throw new Error(`weight ${name} of shape [${shape}] needs ${size(shape)} values, got ${data.length}`);
    }
    const value = this.declare(name, shape, 'float32');
    this.initializers.push({ value, data: data.slice() });
    return value;
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.constant([x], [], dtype);
  }

  /** An int64 vector constant, the type ONNX wants for shapes and axes. */
  ints(values: readonly number[]): Value {
    return this.constant(values, [values.length], 'int64');
  }

  /** Emits one raw ONNX node whose output shapes the caller has worked out. */
  node(
    op: string,
    inputs: readonly Value[],
    outputs: readonly { shape: Shape; dtype: DType }[],
    attrs: Record<string, AttrValue> = {},
    outputName?: string,
  ): Value[] {
    for (const [k, s] of outputs.entries()) {
      if (s.shape.some((d) => !Number.isInteger(d) || d < 0)) {
        throw new Error(`${op}: output ${k} has an invalid shape [${s.shape}]`);
      }
    }
    const outs = outputs.map((o, k) =>
      this.declare(k === 0 && outputName ? outputName : this.fresh(op), o.shape, o.dtype),
    );
    this.nodes.push({
      op,
      inputs: inputs.map((v) => v.name),
      outputs: outs.map((v) => v.name),
      attrs,
      name: `${op}_${this.nodes.length}`,
    });
    return outs;
  }

  /** Runs a differentiable op from the table and records it on the tape. */
  apply<K extends OpName>(op: K, inputs: readonly Value[], attrs: OpAttrs = {}): Value[] {
    const outputs = OPS[op].forward(this, inputs, attrs);
    this.tape.push({ op, inputs, outputs, attrs });
    return outputs;
  }

  private declare(name: string, shape: Shape, dtype: DType): Value {
    if (this.names.has(name)) throw new Error(`graph value name '${name}' is used twice`);
    this.names.add(name);
    return { name, shape: [...shape], dtype };
  }

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    return name;
  }
}

function typedArray(data: ArrayLike<number>, dtype: DType): Initializer['data'] {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data);
    case 'int32':
      return Int32Array.from(data);
    case 'int64':
      return BigInt64Array.from(Array.from(data), (x) => BigInt(x));
    case 'bool':
      return Uint8Array.from(data, (x) => (x ? 1 : 0));
  }
}
