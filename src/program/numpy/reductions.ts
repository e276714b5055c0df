/** Reductions (jnp.sum, mean, max, min, prod, var, std, argmax, argmin, all, any, cumsum, ...). */
import type { DType } from '../../tpu/dtype.js';
import type { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import { type ArrayLike, asTensorOf, asarray, toFloat } from './dtypes.js';
import { normalizeAxes, normalizeAxis } from './axes.js';
import { divide, sqrt, subtract, square, where, isfinite, exp, log } from './elementwise.js';
import { expandDims, reshape } from './shape.js';

export type Axis = number | readonly number[] | null | undefined;

export interface ReduceOptions {
  readonly axis?: Axis;
  readonly keepdims?: boolean;
}

function keep(x: Tensor, out: Tensor, axes: readonly number[], keepdims: boolean | undefined): Tensor {
  if (!keepdims) return out;
  return reshape(out, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
}

function reduceWith(op: string, f: (t: Tensor, axes: number[]) => Tensor, x: Tensor, o: ReduceOptions): Tensor {
  const axes = normalizeAxes(op, o.axis, x.ndim);
  return keep(x, axes.length === 0 ? x : f(x, axes), axes, o.keepdims);
}

/** jnp.sum; booleans sum as i32. `dtype` converts before summing. */
export function sum(x: ArrayLike, options: ReduceOptions & { dtype?: DType } = {}): Tensor {
  let t = asarray(x);
  if (options.dtype) t = lax.convertElementType(t, options.dtype);
  else if (t.dtype === 'bool') t = lax.convertElementType(t, 'i32');
  return reduceWith('sum', lax.reduceSum, t, options);
}

export function prod(x: ArrayLike, options: ReduceOptions = {}): Tensor {
  let t = asarray(x);
  if (t.dtype === 'bool') t = lax.convertElementType(t, 'i32');
  return reduceWith('prod', lax.reduceProd, t, options);
}

export function max(x: ArrayLike, options: ReduceOptions = {}): Tensor {
  const t = asarray(x);
  if (t.size === 0) throw new RangeError(`max: zero-size array ${t} has no maximum`);
  return reduceWith('max', lax.reduceMax, t, options);
}
export const amax = max;

export function min(x: ArrayLike, options: ReduceOptions = {}): Tensor {
  const t = asarray(x);
  if (t.size === 0) throw new RangeError(`min: zero-size array ${t} has no minimum`);
  return reduceWith('min', lax.reduceMin, t, options);
}
export const amin = min;

function asBool(t: Tensor): Tensor {
  return t.dtype === 'bool' ? t : lax.ne(t, lax.broadcastInDim(asTensorOf(0, t.dtype), t.shape, []));
}
export function all(x: ArrayLike, options: ReduceOptions = {}): Tensor {
  return reduceWith('all', lax.reduceAnd, asBool(asarray(x)), options);
}
export function any(x: ArrayLike, options: ReduceOptions = {}): Tensor {
  return reduceWith('any', lax.reduceOr, asBool(asarray(x)), options);
}

function countOf(t: Tensor, axes: readonly number[]): number {
  return axes.reduce((n, a) => n * t.shape[a]!, 1);
}

/** jnp.mean; integers give f32. */
export function mean(x: ArrayLike, options: ReduceOptions = {}): Tensor {
  const t = toFloat(asarray(x));
  const axes = normalizeAxes('mean', options.axis, t.ndim);
  return divide(sum(t, options), countOf(t, axes));
}

/** jnp.var with `ddof` (0: the population variance). */
export function variance(x: ArrayLike, options: ReduceOptions & { ddof?: number } = {}): Tensor {
  const t = toFloat(asarray(x));
  const axes = normalizeAxes('var', options.axis, t.ndim);
  const centered = subtract(t, mean(t, { axis: axes, keepdims: true }));
  const n = countOf(t, axes) - (options.ddof ?? 0);
  return divide(sum(square(centered), { axis: axes, keepdims: options.keepdims ?? false }), n);
}
export { variance as var };

export function std(x: ArrayLike, options: ReduceOptions & { ddof?: number } = {}): Tensor {
  return sqrt(variance(x, options));
}

function argReduce(op: 'argmax' | 'argmin', x: ArrayLike, axis: number | null | undefined, keepdims: boolean): Tensor {
  let t = asarray(x);
  if (t.size === 0) throw new RangeError(`${op}: zero-size array ${t} has no ${op === 'argmax' ? 'maximum' : 'minimum'}`);
  let a: number;
  if (axis === null || axis === undefined) {
    t = reshape(t, [-1]);
    a = 0;
  } else a = normalizeAxis(op, axis, t.ndim);
  const out = op === 'argmax' ? lax.argmax(t, a, 'i32') : lax.argmin(t, a, 'i32');
  if (!keepdims) return out;
  return axis === null || axis === undefined ? reshape(out, asarray(x).shape.map(() => 1)) : expandDims(out, a);
}

/** jnp.argmax (first index on ties; over the flattened array without an axis). */
export function argmax(x: ArrayLike, axis?: number | null, { keepdims = false } = {}): Tensor {
  return argReduce('argmax', x, axis, keepdims);
}
export function argmin(x: ArrayLike, axis?: number | null, { keepdims = false } = {}): Tensor {
  return argReduce('argmin', x, axis, keepdims);
}

function cumulative(op: string, f: (t: Tensor, axis: number, reverse: boolean) => Tensor) {
  return (x: ArrayLike, axis?: number | null, { reverse = false } = {}): Tensor => {
    let t = asarray(x);
    if (t.dtype === 'bool') t = lax.convertElementType(t, 'i32');
    if (axis === null || axis === undefined) {
      t = reshape(t, [-1]);
      axis = 0;
    }
    return f(t, normalizeAxis(op, axis, t.ndim), reverse);
  };
}
/** jnp.cumsum along `axis` (the flattened array without one). */
export const cumsum = cumulative('cumsum', lax.cumsum);
export const cumprod = cumulative('cumprod', lax.cumprod);
export const cummax = cumulative('cummax', lax.cummax);
export const cummin = cumulative('cummin', lax.cummin);

/** jax.nn.logsumexp / jax.scipy.special.logsumexp, stable: max is subtracted first. */
export function logsumexp(x: ArrayLike, options: ReduceOptions = {}): Tensor {
  const t = toFloat(asarray(x));
  const axes = normalizeAxes('logsumexp', options.axis, t.ndim);
  // The shift is a constant for the gradient in jax (stop_gradient); any finite shift gives the same value.
  const m = max(t, { axis: axes, keepdims: true });
  const shift = where(isfinite(m), m, 0);
  const total = lax.add(log(sum(exp(subtract(t, shift)), { axis: axes, keepdims: true })), shift);
  return options.keepdims ? total : reshape(total, t.shape.filter((_, i) => !axes.includes(i)));
}
