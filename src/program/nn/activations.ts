/** Activations (jax.nn): element-wise nonlinearities and the numerically stable softmax family. */
import { stopGradient } from '../autodiff/api.js';
import type { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import { type ArrayLike, asarray, toFloat } from '../numpy/dtypes.js';
import * as jnp from '../numpy.js';
import type { Axis } from '../numpy/reductions.js';

export function relu(x: ArrayLike): Tensor {
  return jnp.maximum(x, 0);
}

/** jax.nn.relu6: min(max(x, 0), 6). */
export function relu6(x: ArrayLike): Tensor {
  return jnp.minimum(jnp.maximum(x, 0), 6);
}

export function sigmoid(x: ArrayLike): Tensor {
  return lax.logistic(toFloat(asarray(x)));
}

export function tanh(x: ArrayLike): Tensor {
  return jnp.tanh(x);
}

/** jax.nn.softplus = logaddexp(x, 0), written as max(x, 0) + log1p(exp(-|x|)) so large |x| neither overflows nor underflows. */
export function softplus(x: ArrayLike): Tensor {
  const t = toFloat(asarray(x));
  return jnp.add(jnp.maximum(t, 0), jnp.log1p(jnp.exp(jnp.negative(jnp.abs(t)))));
}

/** jax.nn.log_sigmoid = -softplus(-x). */
export function logSigmoid(x: ArrayLike): Tensor {
  return jnp.negative(softplus(jnp.negative(x)));
}

/** jax.nn.silu (swish): x * sigmoid(x). */
export function silu(x: ArrayLike): Tensor {
  const t = toFloat(asarray(x));
  return jnp.multiply(t, sigmoid(t));
}
export const swish = silu;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * jax.nn.gelu: with `approximate` (the default, as in jax) the tanh form
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); otherwise the exact x Phi(x) via erf.
 */
export function gelu(x: ArrayLike, { approximate = true } = {}): Tensor {
  const t = toFloat(asarray(x));
  if (approximate) {
    const inner = jnp.multiply(SQRT_2_OVER_PI, jnp.add(t, jnp.multiply(0.044715, jnp.power(t, 3))));
    return jnp.multiply(jnp.multiply(0.5, t), jnp.add(1, jnp.tanh(inner)));
  }
  return jnp.multiply(jnp.multiply(0.5, t), jnp.add(1, jnp.erf(jnp.multiply(t, Math.SQRT1_2))));
}

export function leakyRelu(x: ArrayLike, negativeSlope = 0.01): Tensor {
  const t = asarray(x);
  return jnp.where(jnp.greaterEqual(t, 0), t, jnp.multiply(t, negativeSlope));
}

/** jax.nn.elu: x for x > 0, alpha (exp(x) - 1) otherwise (expm1 of the clamped value, so no overflow). */
export function elu(x: ArrayLike, alpha = 1): Tensor {
  const t = toFloat(asarray(x));
  const safe = jnp.minimum(t, 0);
  return jnp.where(jnp.greater(t, 0), t, jnp.multiply(alpha, jnp.expm1(safe)));
}

function shiftByMax(t: Tensor, axis: Axis): Tensor {
  // The shift only guards exp against overflow; as in jax it carries no gradient.
  const m = stopGradient(jnp.max(t, { axis, keepdims: true }));
  return jnp.subtract(t, jnp.where(jnp.isfinite(m), m, 0));
}

/** jax.nn.softmax over `axis` (default last), stable: the max is subtracted first. */
export function softmax(x: ArrayLike, axis: Axis = -1): Tensor {
  const t = toFloat(asarray(x));
  const e = jnp.exp(shiftByMax(t, axis));
  return jnp.divide(e, jnp.sum(e, { axis, keepdims: true }));
}

/** jax.nn.log_softmax over `axis` (default last): shifted - log(sum(exp(shifted))). */
export function logSoftmax(x: ArrayLike, axis: Axis = -1): Tensor {
  const t = toFloat(asarray(x));
  const shifted = shiftByMax(t, axis);
  return jnp.subtract(shifted, jnp.log(jnp.sum(jnp.exp(shifted), { axis, keepdims: true })));
}

/** jax.nn.standardize: (x - mean) / sqrt(var + epsilon) over `axis`. */
export function standardize(x: ArrayLike, axis: Axis = -1, epsilon = 1e-5): Tensor {
  const t = toFloat(asarray(x));
  const centered = jnp.subtract(t, jnp.mean(t, { axis, keepdims: true }));
  const v = jnp.mean(jnp.square(centered), { axis, keepdims: true });
  return jnp.multiply(centered, jnp.rsqrt(jnp.add(v, epsilon)));
}
