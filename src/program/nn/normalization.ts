/** Normalization layers: flax.linen.LayerNorm and BatchNorm (train and eval). */
import type { DType } from '../../tpu/dtype.js';
import type { Tensor } from '../tracer.js';
import * as jnp from '../numpy.js';
import { normalizeAxis } from '../numpy/axes.js';

export type NormParams = { readonly scale: Tensor; readonly bias: Tensor };

function normalize(x: Tensor, mean: Tensor, variance: Tensor, params: NormParams, epsilon: number): Tensor {
  const y = jnp.multiply(jnp.subtract(x, mean), jnp.rsqrt(jnp.add(variance, epsilon)));
  return jnp.add(jnp.multiply(y, params.scale), params.bias);
}

/** flax.linen.LayerNorm over the last axis (epsilon 1e-6, learned scale and bias). */
export const layerNorm = {
  init(features: number, dtype: DType = 'f32'): NormParams {
    return { scale: jnp.ones([features], dtype), bias: jnp.zeros([features], dtype) };
  },
  apply(params: NormParams, x: Tensor, { epsilon = 1e-6 } = {}): Tensor {
    const mean = jnp.mean(x, { axis: -1, keepdims: true });
    const variance = jnp.mean(jnp.square(jnp.subtract(x, mean)), { axis: -1, keepdims: true });
    return normalize(x, mean, variance, params, epsilon);
  },
};

/** BatchNorm's running statistics (flax's `batch_stats` collection). */
export type BatchStats = { readonly mean: Tensor; readonly var: Tensor };

export interface BatchNormOptions {
  /** Train: normalise by the batch's statistics and update the running ones. Eval: use the running ones. */
  readonly train: boolean;
  readonly momentum?: number;
  readonly epsilon?: number;
  /** The feature axis (default last); statistics are over every other axis. */
  readonly axis?: number;
}

/**
 * flax.linen.BatchNorm: momentum 0.99 and epsilon 1e-5 by default. The running variance
 * averages the biased batch variance, as flax does.
 */
export const batchNorm = {
  init(features: number, dtype: DType = 'f32'): { params: NormParams; stats: BatchStats } {
    return {
      params: { scale: jnp.ones([features], dtype), bias: jnp.zeros([features], dtype) },
      stats: { mean: jnp.zeros([features], dtype), var: jnp.ones([features], dtype) },
    };
  },
  apply(params: NormParams, stats: BatchStats, x: Tensor, o: BatchNormOptions): { y: Tensor; stats: BatchStats } {
    const fa = normalizeAxis('batch_norm', o.axis ?? -1, x.ndim);
    const reduce = x.shape.map((_, i) => i).filter((i) => i !== fa);
    const featureShape = x.shape.map((d, i) => (i === fa ? d : 1));
    const p: NormParams = { scale: jnp.reshape(params.scale, featureShape), bias: jnp.reshape(params.bias, featureShape) };
    const epsilon = o.epsilon ?? 1e-5;
    if (!o.train) {
      return { y: normalize(x, jnp.reshape(stats.mean, featureShape), jnp.reshape(stats.var, featureShape), p, epsilon), stats };
    }
    const mean = jnp.mean(x, { axis: reduce, keepdims: true });
    const variance = jnp.mean(jnp.square(jnp.subtract(x, mean)), { axis: reduce, keepdims: true });
    const m = o.momentum ?? 0.99;
    const newStats: BatchStats = {
      mean: jnp.add(jnp.multiply(m, stats.mean), jnp.multiply(1 - m, jnp.reshape(mean, [-1]))),
      var: jnp.add(jnp.multiply(m, stats.var), jnp.multiply(1 - m, jnp.reshape(variance, [-1]))),
    };
    return { y: normalize(x, mean, variance, p, epsilon), stats: newStats };
  },
};
