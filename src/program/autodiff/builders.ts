/**
 * Thin typed wrappers over `bind` for the differentiation rules. Every rule is written
 * with these, so a backward (or tangent) program is itself made of primitives: it can be
 * traced, jit-compiled and differentiated again.
 *
 * Operands of binary helpers must already agree in shape and dtype (no implicit
 * broadcasting here: rules say exactly which broadcast they mean).
 */
import type { DType } from '../../tpu/dtype.js';
import type { BinaryOp, CompareOp, PrimitiveParams, UnaryOp } from '../../tpu/ops.js';
import { tensorFrom } from '../../tpu/tensor.js';
import { Tensor, bind, bind1 } from '../tracer.js';

export function unary(op: UnaryOp, x: Tensor): Tensor {
  return bind1(op, [x], {});
}

export function binary(op: BinaryOp, x: Tensor, y: Tensor): Tensor {
  return bind1(op, [x, y], {});
}

export function compare(op: CompareOp, x: Tensor, y: Tensor): Tensor {
  return bind1(op, [x, y], {});
}

export const add = (x: Tensor, y: Tensor): Tensor => binary('add', x, y);
export const sub = (x: Tensor, y: Tensor): Tensor => binary('sub', x, y);
export const mul = (x: Tensor, y: Tensor): Tensor => binary('mul', x, y);
export const div = (x: Tensor, y: Tensor): Tensor => binary('div', x, y);
export const neg = (x: Tensor): Tensor => unary('neg', x);

/** A concrete scalar of `dtype`. */
export function scalar(value: number, dtype: DType): Tensor {
  return Tensor.concrete(tensorFrom(dtype, [], [value]));
}

/** `value` broadcast to the shape and dtype of `like` (a scalar constant plus a broadcast, not a big constant). */
export function fullLike(like: Tensor, value: number, dtype: DType = like.dtype): Tensor {
  return full(like.shape, value, dtype);
}

export function full(shape: readonly number[], value: number, dtype: DType): Tensor {
  const s = scalar(value, dtype);
  return shape.length === 0 ? s : broadcastInDim(s, shape, []);
}

export function zerosLike(like: Tensor): Tensor {
  return fullLike(like, 0);
}

/** x * c for a number c, in x's dtype. */
export function scale(x: Tensor, c: number): Tensor {
  return mul(x, fullLike(x, c));
}

export function select(pred: Tensor, onTrue: Tensor, onFalse: Tensor): Tensor {
  return bind1('select', [pred, onTrue, onFalse], {});
}

export function convert(x: Tensor, newDtype: DType): Tensor {
  return x.dtype === newDtype ? x : bind1('convert_element_type', [x], { newDtype });
}

export function broadcastInDim(x: Tensor, shape: readonly number[], broadcastDimensions: readonly number[]): Tensor {
  return bind1('broadcast_in_dim', [x], { shape: [...shape], broadcastDimensions: [...broadcastDimensions] });
}

export function reshape(x: Tensor, newSizes: readonly number[]): Tensor {
  if (x.shape.length === newSizes.length && x.shape.every((d, i) => d === newSizes[i])) return x;
  return bind1('reshape', [x], { newSizes: [...newSizes] });
}

export function transpose(x: Tensor, permutation: readonly number[]): Tensor {
  if (permutation.every((p, i) => p === i)) return x;
  return bind1('transpose', [x], { permutation: [...permutation] });
}

export function reduceSum(x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length === 0) return x;
  return bind1('reduce_sum', [x], { axes: [...axes].sort((a, b) => a - b) });
}

export function integerPow(x: Tensor, y: number): Tensor {
  return bind1('integer_pow', [x], { y });
}

export function slice(x: Tensor, params: PrimitiveParams['slice']): Tensor {
  return bind1('slice', [x], params);
}

export function pad(x: Tensor, paddingValue: Tensor, paddingConfig: PrimitiveParams['pad']['paddingConfig']): Tensor {
  return bind1('pad', [x, paddingValue], { paddingConfig });
}

export function rev(x: Tensor, dimensions: readonly number[]): Tensor {
  if (dimensions.length === 0) return x;
  return bind1('rev', [x], { dimensions: [...dimensions] });
}

export function iota(dtype: DType, shape: readonly number[], dimension: number): Tensor {
  return bind1('iota', [], { dtype, shape: [...shape], dimension });
}

/** `x` with its `dims` summed away (shape kept with size-1 dims there), for unbroadcasting. */
export function sumToShape(x: Tensor, shape: readonly number[]): Tensor {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  if (shape.length === 0) return reduceSum(x, x.shape.map((_, i) => i));
  if (shape.length !== x.shape.length) {
    throw new Error(`sumToShape: cannot sum [${x.shape.join(',')}] to [${shape.join(',')}]`);
  }
  const axes = x.shape.flatMap((d, i) => (d !== shape[i] && shape[i] === 1 ? [i] : []));
  return reshape(reduceSum(x, axes), shape);
}

/** `x` (a scalar or of `shape`) broadcast to `shape`. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  if (x.shape.length !== 0) throw new Error(`broadcastTo: [${x.shape.join(',')}] is neither a scalar nor [${shape.join(',')}]`);
  return broadcastInDim(x, shape, []);
}

/** Zero-cotangent-safe sum: the sum of the non-null terms, or null. */
export function addAll(terms: readonly (Tensor | null)[]): Tensor | null {
  let acc: Tensor | null = null;
  for (const t of terms) if (t) acc = acc ? add(acc, t) : t;
  return acc;
}

/** x where present, else zeros like `like` (materialises a symbolic zero). */
export function orZeros(x: Tensor | null, like: Tensor): Tensor {
  return x ?? zerosLike(like);
}
