import { type DType, type DeviceArray, allocHostArray, checkDType, readElement, writeElement } from './dtype.js';

/** A shape and a dtype: what the shape rules and the cost model see (XLA's Shape). */
export interface AbstractValue {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/**
 * A dense row-major tensor: a typed-array view, usually into a core's HBM arena.
 * `data.length` equals the product of `shape` (1 for a scalar, shape []).
 */
export interface TensorView extends AbstractValue {
  readonly data: DeviceArray;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function shapeToString(v: AbstractValue): string {
  return `${v.dtype}[${v.shape.join(',')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A host tensor (outside any arena) of zeros. */
export function hostTensor(dtype: DType, shape: readonly number[]): TensorView {
  checkDType(dtype);
  return { dtype, shape: [...shape], data: allocHostArray(dtype, sizeOf(shape)) };
}

/** A host tensor from plain numbers, converted with the dtype's rounding. */
export function tensorFrom(dtype: DType, shape: readonly number[], values: ArrayLike<number>): TensorView {
  const t = hostTensor(dtype, shape);
  if (values.length !== t.data.length) {
    throw new Error(`tensorFrom: ${values.length} values for shape [${shape.join(',')}] (${t.data.length} elements)`);
  }
  for (let i = 0; i < values.length; i++) writeElement(dtype, t.data, i, values[i]!);
  return t;
}

/** The tensor's elements as plain numbers (bf16 widened). Allocates: for tests and reference code. */
export function toNumbers(t: TensorView): Float64Array {
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = readElement(t.dtype, t.data, i);
  return out;
}
