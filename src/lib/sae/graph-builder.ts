/** Appending named initializers and nodes to an ONNX graph under one prefix (the SAE encoder's ops). */
import { attrInt, attrInts, float32ToFloat16Bits, makeNode, makeTensor, TensorDataType, type OnnxAttribute, type OnnxGraph } from '../formats/index.ts';

export class GraphBuilder {
  private counter = 0;
  constructor(
    private readonly graph: OnnxGraph,
    private readonly prefix: string,
    /** The model's ai.onnx opset (reduce ops take axes as an attribute or an input depending on it). */
    readonly opset: number,
  ) {}

  weight(name: string, data: Float32Array, dims: number[]): string {
    const full = `${this.prefix}${name}`;
    this.graph.initializers.push(makeTensor(full, TensorDataType.FLOAT, dims, data));
    return full;
  }

  /** A float32 array stored as float16 (rounded to nearest). */
  half(name: string, data: Float32Array, dims: number[]): string {
    const full = `${this.prefix}${name}`;
    this.graph.initializers.push(makeTensor(full, TensorDataType.FLOAT16, dims, Uint16Array.from(data, float32ToFloat16Bits)));
    return full;
  }

  int64(name: string, values: number[]): string {
    const full = `${this.prefix}${name}`;
    this.graph.initializers.push(makeTensor(full, TensorDataType.INT64, [values.length], values));
    return full;
  }

  op(opType: string, inputs: string[], attributes: OnnxAttribute[] = [], outputs?: string[]): string {
    return this.ops(opType, inputs, attributes, outputs)[0]!;
  }

  /** A node with several outputs (TopK's values and indices). */
  ops(opType: string, inputs: string[], attributes: OnnxAttribute[] = [], outputs?: string[], count = 1): string[] {
    const name = `${this.prefix}${opType}_${this.counter++}`;
    const outs = outputs ?? Array.from({ length: count }, (_, i) => `${name}_output_${i}`);
    this.graph.nodes.push(makeNode(opType, inputs, outs, { name, attributes }));
    return outs;
  }

  /** A reduction over one axis; ReduceSum takes its axes as an input from opset 13, the others from opset 18. */
  reduce(op: 'ReduceMean' | 'ReduceSum' | 'ReduceMax', x: string, axis: number, keepdims: 0 | 1): string {
    const axesAsInput = op === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    return axesAsInput
      ? this.op(op, [x, this.int64(`axis_${this.counter}`, [axis])], [attrInt('keepdims', keepdims)])
      : this.op(op, [x], [attrInts('axes', [axis]), attrInt('keepdims', keepdims)]);
  }
}
