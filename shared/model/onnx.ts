/** Serialises a built graph to ONNX protobuf bytes that every onnxruntime flavour loads. */
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import type { AttrValue, DType, Graph, Value } from './graph';

const { onnx } = onnxProto;

export const OPSET = 17;
const IR_VERSION = 8;

const ELEM_TYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

function valueInfo(v: Value): OnnxTypes.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: { elemType: ELEM_TYPE[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } },
    },
  };
}

function attribute(name: string, value: AttrValue): OnnxTypes.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  return { name, type: AttributeType.FLOAT, f: value.float };
}

export function toOnnxBytes(g: Graph, graphName = 'graph'): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'demuon-mesh',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graphName,
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
      initializer: g.initializers.map(({ value, data }) => ({
        name: value.name,
        dims: [...value.shape],
        dataType: ELEM_TYPE[value.dtype],
        // Raw little-endian bytes: the layout ONNX prescribes, and the one typed arrays have on every
        // platform these graphs run on.
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      })),
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
