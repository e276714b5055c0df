/** Array creation (jnp.array, zeros, ones, full, arange, linspace, eye and the *_like forms). */
import { type DType, checkDType } from '../../tpu/dtype.js';
import { sizeOf, tensorFrom } from '../../tpu/tensor.js';
import { Tensor } from '../tracer.js';
import { add, broadcastInDim, convertElementType, eq, iota, mul } from '../lax.js';
import { type ArrayLike as ArrayLikeValue, asTensorOf, dtypeOf, scalar, scalarDType } from './dtypes.js';

/** Nested JS arrays of numbers or booleans, or a flat typed array. */
export type NestedValues = number | boolean | ArrayLike<number> | readonly NestedValues[];

export interface ArrayOptions {
  readonly dtype?: DType;
  /** The shape of flat `values` (a plain or typed array); inferred from nesting otherwise. */
  readonly shape?: readonly number[];
}

function isTypedArray(x: unknown): x is ArrayLike<number> & ArrayBufferView {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

function inferShapeAndFlatten(values: NestedValues): { shape: number[]; flat: (number | boolean)[] } {
  const flat: (number | boolean)[] = [];
  const shape: number[] = [];
  const walk = (v: NestedValues, depth: number): void => {
    if (typeof v === 'number' || typeof v === 'boolean') {
      if (depth !== shape.length) throw new RangeError(`array: ragged nested values (a scalar at depth ${depth}, expected ${shape.length})`);
      flat.push(v);
      return;
    }
    const items = isTypedArray(v) ? Array.from(v as ArrayLike<number>) : (v as readonly NestedValues[]);
    if (depth === shape.length && flat.length === 0) shape.push(items.length);
    else if (shape[depth] !== items.length) {
      throw new RangeError(`array: ragged nested values (length ${items.length} at depth ${depth}, expected ${shape[depth]})`);
    }
    for (const item of items) walk(item, depth + 1);
  };
  walk(values, 0);
  return { shape, flat };
}

function defaultDType(values: NestedValues, flat: readonly (number | boolean)[]): DType {
  if (values instanceof Float32Array || values instanceof Float64Array) return 'f32';
  if (values instanceof Int32Array || values instanceof Int16Array || values instanceof Int8Array) return 'i32';
  if (values instanceof Uint8Array || values instanceof Uint16Array || values instanceof Uint32Array) return 'i32';
  if (flat.length > 0 && flat.every((v) => typeof v === 'boolean')) return 'bool';
  return flat.every((v) => typeof v === 'boolean' || scalarDType(v) !== 'f32') ? 'i32' : 'f32';
}

/**
 * jnp.array: a concrete tensor from nested JS arrays (shape inferred), or from flat values
 * with `shape`. The dtype defaults as numpy's would: bool for booleans, i32 for integers,
 * f32 otherwise (and a typed array's own kind).
 */
export function array(values: NestedValues | Tensor, options: ArrayOptions = {}): Tensor {
  if (values instanceof Tensor) return options.dtype ? convertElementType(values, checkDType(options.dtype)) : values;
  let shape: number[];
  let flat: (number | boolean)[];
  if (options.shape !== undefined) {
    shape = [...options.shape];
    flat = typeof values === 'number' || typeof values === 'boolean' ? [values] : Array.from(values as ArrayLike<number>);
    if (flat.length !== sizeOf(shape)) {
      throw new RangeError(`array: ${flat.length} values for shape [${shape.join(',')}] (${sizeOf(shape)} elements)`);
    }
  } else {
    ({ shape, flat } = inferShapeAndFlatten(values));
  }
  const dtype = options.dtype === undefined ? defaultDType(values, flat) : checkDType(options.dtype);
  return Tensor.concrete(tensorFrom(dtype, shape, flat.map(Number)));
}

/** jnp.full: `shape` filled with `value` (broadcast from a scalar constant, so it stays small under jit). */
export function full(shape: readonly number[], value: ArrayLikeValue, dtype?: DType): Tensor {
  const d = dtype === undefined ? dtypeOf(value) : checkDType(dtype);
  const v = asTensorOf(value, d);
  if (v.ndim !== 0) throw new RangeError(`full: fill value must be a scalar, got ${v}`);
  return broadcastInDim(v, shape, []);
}

export function zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return full(shape, 0, dtype);
}

export function ones(shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return full(shape, 1, dtype);
}

export function zerosLike(x: Tensor, dtype?: DType): Tensor {
  return zeros(x.shape, dtype ?? x.dtype);
}
export function onesLike(x: Tensor, dtype?: DType): Tensor {
  return ones(x.shape, dtype ?? x.dtype);
}
export function fullLike(x: Tensor, value: ArrayLikeValue, dtype?: DType): Tensor {
  return full(x.shape, value, dtype ?? x.dtype);
}

/** jnp.arange(stop) or arange(start, stop, step): i32 when all are integers, f32 otherwise. */
export function arange(startOrStop: number, stop?: number, step = 1, dtype?: DType): Tensor {
  const [start, end] = stop === undefined ? [0, startOrStop] : [startOrStop, stop];
  if (step === 0) throw new RangeError('arange: step must not be zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const d = dtype === undefined ? ([start, end, step].every(Number.isInteger) ? 'i32' : 'f32') : checkDType(dtype);
  if (d === 'bool') throw new TypeError('arange: dtype must be a number dtype, got bool');
  const idx = iota(d, [n]);
  if (start === 0 && step === 1) return idx;
  return add(mul(idx, scalarBroadcast(step, d, [n])), scalarBroadcast(start, d, [n]));
}

function scalarBroadcast(v: number, dtype: DType, shape: readonly number[]): Tensor {
  return broadcastInDim(scalar(v, dtype), shape, []);
}

/** jnp.linspace: `num` evenly spaced values from start to stop (inclusive unless endpoint is false). */
export function linspace(start: number, stop: number, num = 50, { endpoint = true, dtype = 'f32' as DType } = {}): Tensor {
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const values = Array.from({ length: num }, (_, i) => (endpoint && i === num - 1 && num > 1 ? stop : start + i * step));
  return array(values, { dtype, shape: [num] });
}

/** jnp.eye: ones on the k-th diagonal of an n x m matrix. */
export function eye(n: number, m = n, k = 0, dtype: DType = 'f32'): Tensor {
  const rows = iota('i32', [n, m], 0);
  const cols = iota('i32', [n, m], 1);
  const onDiag = eq(add(rows, scalarBroadcast(k, 'i32', [n, m])), cols);
  return convertElementType(onDiag, checkDType(dtype));
}
