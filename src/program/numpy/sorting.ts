/** Sorting and selection: jnp.sort, argsort, lax.top_k. */
import type { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import { type ArrayLike, asarray } from './dtypes.js';
import { normalizeAxis } from './axes.js';
import { reshape } from './shape.js';

/** jnp.sort along `axis` (default last; null: the flattened array), ascending, NaN last. */
export function sort(x: ArrayLike, axis: number | null = -1): Tensor {
  let t = asarray(x);
  if (axis === null) {
    t = reshape(t, [-1]);
    axis = 0;
  }
  if (t.ndim === 0) return t;
  return lax.sort([t], normalizeAxis('sort', axis, t.ndim))[0]!;
}

/** jnp.argsort: stable, ascending (descending keeps the order of equal elements too). */
export function argsort(x: ArrayLike, axis: number | null = -1, { descending = false } = {}): Tensor {
  let t = asarray(x);
  if (axis === null) {
    t = reshape(t, [-1]);
    axis = 0;
  }
  const a = normalizeAxis('argsort', axis, t.ndim);
  const keys = descending ? (t.dtype === 'bool' ? lax.bitwiseNot(t) : lax.neg(t)) : t;
  return lax.sort([keys, lax.iota('i32', t.shape, a)], a, { isStable: true, numKeys: 1 })[1]!;
}

/** lax.top_k: the k largest along the last axis, descending: [values, indices]. */
export function topK(x: ArrayLike, k: number): [Tensor, Tensor] {
  const t = asarray(x);
  if (t.ndim === 0) throw new RangeError(`top_k: operand must have at least one dim, got ${t}`);
  if (!Number.isInteger(k) || k < 0 || k > t.shape[t.ndim - 1]!) {
    throw new RangeError(`top_k: k=${k} is out of range for ${t}`);
  }
  return lax.topK(t, k);
}
