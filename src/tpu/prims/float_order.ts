/**
 * The orders the sort-like reference kernels use to compare numbers read with
 * `readElement` (f32, bf16 widened, i32, bool as 0/1). Integers compare numerically
 * under both; they differ only for floats.
 *
 * NaNs are all treated as the largest value: JS numbers do not reliably keep a NaN's
 * sign bit, and jnp.nan is a positive NaN, which the IEEE total order puts last.
 */

/**
 * lax.sort's key order: JAX canonicalises float keys before comparing
 * (jax/_src/lax/lax.py `_canonicalize_float_for_sort`: -0 becomes +0 and every NaN the
 * positive NaN), then compares with the total order. So -0 and +0 tie (a stable sort keeps
 * their input order) and NaNs tie with each other after every number.
 * Returns negative, zero or positive like a sort comparator.
 */
export function compareSortKeys(a: number, b: number): number {
  const aNaN = Number.isNaN(a);
  const bNaN = Number.isNaN(b);
  if (aNaN || bNaN) return aNaN === bNaN ? 0 : aNaN ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0; // -0 === +0 here, as canonicalised
}

/**
 * The IEEE total order as lax.top_k's comparator applies it (chlo.top_k lowers to a sort
 * whose float comparisons use ComparisonType TOTALORDER): -inf < ... < -0 < +0 < ... < +inf
 * < NaN. Returns negative, zero or positive.
 */
export function compareTotalOrder(a: number, b: number): number {
  const aNaN = Number.isNaN(a);
  const bNaN = Number.isNaN(b);
  if (aNaN || bNaN) return aNaN === bNaN ? 0 : aNaN ? 1 : -1;
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === 0 && b === 0) {
    const aNeg = Object.is(a, -0);
    const bNeg = Object.is(b, -0);
    return aNeg === bNeg ? 0 : aNeg ? -1 : 1;
  }
  return 0;
}
