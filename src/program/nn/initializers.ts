/**
 * Parameter initializers (jax.nn.initializers / flax defaults): functions of (key, shape, dtype).
 * Variance scaling reads fans the way jax does: the receptive field is every dim but
 * `inAxis` and `outAxis` (so HWIO conv kernels get fan_in = H * W * I).
 */
import type { DType } from '../../tpu/dtype.js';
import { sizeOf } from '../../tpu/tensor.js';
import type { Tensor } from '../tracer.js';
import * as jnp from '../numpy.js';
import * as random from '../random.js';

export type Initializer = (key: random.Key, shape: readonly number[], dtype?: DType) => Tensor;

export const zeros: Initializer = (_key, shape, dtype = 'f32') => jnp.zeros(shape, dtype);
export const ones: Initializer = (_key, shape, dtype = 'f32') => jnp.ones(shape, dtype);

export function constant(value: number): Initializer {
  return (_key, shape, dtype = 'f32') => jnp.full(shape, value, dtype);
}

export function normal(stddev = 1e-2): Initializer {
  return (key, shape, dtype = 'f32') => jnp.multiply(random.normal(key, shape, dtype), stddev);
}

export function uniform(scale = 1e-2): Initializer {
  return (key, shape, dtype = 'f32') => random.uniform(key, shape, { dtype, minval: 0, maxval: scale });
}

function fans(shape: readonly number[], inAxis: number, outAxis: number): [number, number] {
  if (shape.length < 1) return [1, 1];
  if (shape.length === 1) return [shape[0]!, shape[0]!];
  const ia = inAxis < 0 ? inAxis + shape.length : inAxis;
  const oa = outAxis < 0 ? outAxis + shape.length : outAxis;
  const receptive = sizeOf(shape.filter((_, i) => i !== ia && i !== oa));
  return [shape[ia]! * receptive, shape[oa]! * receptive];
}

// stddev of a standard normal truncated to (-2, 2), as jax's variance_scaling divides by.
const TRUNCATED_STDDEV = 0.87962566103423978;

/** jax.nn.initializers.variance_scaling. */
export function varianceScaling(
  scale: number,
  mode: 'fan_in' | 'fan_out' | 'fan_avg',
  distribution: 'truncated_normal' | 'normal' | 'uniform',
  { inAxis = -2, outAxis = -1 } = {},
): Initializer {
  return (key, shape, dtype = 'f32') => {
    const [fanIn, fanOut] = fans(shape, inAxis, outAxis);
    const denom = mode === 'fan_in' ? fanIn : mode === 'fan_out' ? fanOut : (fanIn + fanOut) / 2;
    const variance = scale / Math.max(1, denom);
    if (distribution === 'truncated_normal') {
      const stddev = Math.sqrt(variance) / TRUNCATED_STDDEV;
      return jnp.multiply(random.truncatedNormal(key, -2, 2, shape, dtype), stddev);
    }
    if (distribution === 'normal') return jnp.multiply(random.normal(key, shape, dtype), Math.sqrt(variance));
    const limit = Math.sqrt(3 * variance);
    return random.uniform(key, shape, { dtype, minval: -limit, maxval: limit });
  };
}

/** flax's default kernel init. */
export const lecunNormal = (): Initializer => varianceScaling(1, 'fan_in', 'truncated_normal');
export const heNormal = (): Initializer => varianceScaling(2, 'fan_in', 'truncated_normal');
export const glorotUniform = (): Initializer => varianceScaling(1, 'fan_avg', 'uniform');
export const glorotNormal = (): Initializer => varianceScaling(1, 'fan_avg', 'truncated_normal');
export const xavierUniform = glorotUniform;
