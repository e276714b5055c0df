/**
 * jax.numpy's dtype promotion, with JS numbers as JAX's weakly typed Python scalars.
 *
 * The lattice (bool < i32 < bf16 < f32) is JAX's restricted to tpusim's dtypes: i32 + bf16
 * is bf16, bf16 + f32 is f32. A weak value (a JS number, or a tensor made from one by
 * `asarray`) takes the other operand's dtype when that is of the same kind or higher, so
 * `add(x, 2)` keeps x's dtype and `add(intTensor, 0.5)` is f32.
 */
import { type DType, checkDType, isFloat } from '../../tpu/dtype.js';
import { tensorFrom } from '../../tpu/tensor.js';
import { Tensor } from '../tracer.js';
import { convertElementType } from '../lax.js';

/** What jax.numpy functions accept: tensors, and JS numbers/booleans as weak scalars. */
export type ArrayLike = Tensor | number | boolean;

const RANK: Record<DType, number> = { bool: 0, i32: 1, bf16: 2, f32: 3 };
type Kind = 'bool' | 'int' | 'float';

function kindOf(dtype: DType): Kind {
  return dtype === 'bool' ? 'bool' : dtype === 'i32' ? 'int' : 'float';
}
const KIND_RANK: Record<Kind, number> = { bool: 0, int: 1, float: 2 };

/** Tensors made from JS scalars: they promote like the scalar they came from. */
const weakTensors = new WeakSet<Tensor>();

export function isWeak(x: ArrayLike): boolean {
  return !(x instanceof Tensor) || weakTensors.has(x);
}

export function markWeak(t: Tensor): Tensor {
  weakTensors.add(t);
  return t;
}

/** The dtype a JS scalar gets on its own: bool, i32 for integers, f32 otherwise (jax's defaults without x64). */
export function scalarDType(x: number | boolean): DType {
  if (typeof x === 'boolean') return 'bool';
  return Number.isInteger(x) && x >= -2147483648 && x <= 2147483647 ? 'i32' : 'f32';
}

export function dtypeOf(x: ArrayLike): DType {
  return x instanceof Tensor ? x.dtype : scalarDType(x);
}

/** jnp.result_type over operands, honouring weak types. */
export function resultType(...xs: readonly ArrayLike[]): DType {
  let strong: DType | null = null;
  let weak: DType | null = null;
  for (const x of xs) {
    const d = dtypeOf(x);
    if (isWeak(x)) weak = weak === null || RANK[d] > RANK[weak] ? d : weak;
    else strong = strong === null || RANK[d] > RANK[strong] ? d : strong;
  }
  if (strong === null) return weak ?? 'f32';
  if (weak === null) return strong;
  return KIND_RANK[kindOf(weak)] > KIND_RANK[kindOf(strong)] ? weak : strong;
}

/** True if every operand is weak: the result of an op on them stays weak. */
export function allWeak(xs: readonly ArrayLike[]): boolean {
  return xs.every(isWeak);
}

/** A concrete scalar tensor of `dtype`. */
export function scalar(value: number | boolean, dtype: DType): Tensor {
  return Tensor.concrete(tensorFrom(checkDType(dtype), [], [Number(value)]));
}

/** `x` as a tensor (jnp.asarray): numbers become weakly typed scalars; `dtype` converts. */
export function asarray(x: ArrayLike, dtype?: DType): Tensor {
  if (x instanceof Tensor) return dtype === undefined ? x : convertElementType(x, checkDType(dtype));
  if (typeof x !== 'number' && typeof x !== 'boolean') {
    throw new TypeError(`asarray: expected a Tensor, number or boolean, got ${typeof x}; use jnp.array for nested lists`);
  }
  if (dtype !== undefined) return scalar(x, dtype);
  return markWeak(scalar(x, scalarDType(x)));
}

/** `x` as a tensor of `dtype` (the promoted type of an expression). */
export function asTensorOf(x: ArrayLike, dtype: DType): Tensor {
  return x instanceof Tensor ? convertElementType(x, dtype) : scalar(x, dtype);
}

/** `x` converted to a float dtype if it is not one (for ops that only take floats, as jnp does). */
export function toFloat(x: Tensor): Tensor {
  return isFloat(x.dtype) ? x : convertElementType(x, 'f32');
}

/** jnp's float dtype for `x`: its own if it is float, f32 otherwise. */
export function floatDTypeOf(x: ArrayLike): DType {
  const d = dtypeOf(x);
  return isFloat(d) ? d : 'f32';
}
