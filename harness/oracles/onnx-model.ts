// A minimal in-memory ONNX graph builder over onnx-proto's generated messages: float32 inputs and
// outputs of static shape, float32 / int64 initializers, nodes with int, ints and string attributes.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Node = InstanceType<typeof onnx.NodeProto>;
type Attribute = InstanceType<typeof onnx.AttributeProto>;
type ValueInfo = InstanceType<typeof onnx.ValueInfoProto>;
type Initializer = InstanceType<typeof onnx.TensorProto>;

/** Attribute values: an integer, a list of integers, or a string. */
export type AttributeValue = number | readonly number[] | string;

/** ONNX IR version 9 (ONNX 1.14), which the opset below needs. */
const IR_VERSION = 9;

function attribute(name: string, value: AttributeValue): Attribute {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer`);
    return onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value });
  }
  return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: [...value] });
}

/** A float32 (or int64) value; without a shape, the engine's shape inference decides it. */
function valueInfo(name: string, shape?: readonly number[], int64 = false): ValueInfo {
  const elemType = int64 ? onnx.TensorProto.DataType.INT64 : onnx.TensorProto.DataType.FLOAT;
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: shape ? { elemType, shape: { dim: shape.map((d) => ({ dimValue: d })) } } : { elemType } },
  });
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: Initializer[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  /** A float32 graph input of static shape. */
  input(name: string, shape: readonly number[]): string {
    this.inputs.push(valueInfo(name, shape));
    return name;
  }

  /** Marks a value as a float32 (or int64) graph output; its shape is left to the engine, so a difference shows. */
  output(name: string, type: 'float32' | 'int64' = 'float32'): void {
    this.outputs.push(valueInfo(name, undefined, type === 'int64'));
  }

  /** A float32 constant. */
  floats(values: Float32Array, dims: readonly number[]): string {
    const name = this.fresh('const');
    const rawData = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    this.initializers.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData }));
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, slice bounds). */
  int64s(values: readonly number[]): string {
    const name = this.fresh('const');
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: [...values] }));
    return name;
  }

  /**
   * Adds a node; returns its output names (`outputs` fresh names unless given by name).
   * An empty input name is an omitted optional input.
   */
  node(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, outputs: number | readonly string[] = 1): string[] {
    const names = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : [...outputs];
    this.nodes.push(onnx.NodeProto.create({
      opType, name: this.fresh(`${opType}_node`), input: [...inputs], output: names,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    }));
    return names;
  }

  /** Shorthand for a single-output node. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}): string {
    return this.node(opType, inputs, attributes, 1)[0];
  }

  /** Serialized ModelProto importing the default domain at `opset`. */
  toBytes(opset: number): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'convbench',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.initializers,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }
}
