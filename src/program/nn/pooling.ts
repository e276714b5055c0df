/** Pooling (flax.linen.max_pool / avg_pool): windows over the spatial dims of [batch, ...spatial, features]. */
import type { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import * as jnp from '../numpy.js';

export interface PoolOptions {
  /** Default: 1 in every spatial dim, as flax. */
  readonly strides?: readonly number[];
  readonly padding?: lax.Padding;
}

function windowOptions(x: Tensor, windowShape: readonly number[], o: PoolOptions, op: string): lax.ReduceWindowOptions {
  if (x.ndim !== windowShape.length + 2) {
    throw new RangeError(`${op}: input ${x} must be [batch, ...${windowShape.length} spatial dims, features]`);
  }
  const strides = o.strides ?? windowShape.map(() => 1);
  const padding = o.padding ?? 'VALID';
  return {
    windowDimensions: [1, ...windowShape, 1],
    windowStrides: [1, ...strides, 1],
    padding: typeof padding === 'string' ? padding : [[0, 0], ...padding, [0, 0]],
  };
}

export function maxPool(x: Tensor, windowShape: readonly number[], o: PoolOptions = {}): Tensor {
  return lax.reduceWindowMax(x, windowOptions(x, windowShape, o, 'max_pool'));
}

/** Average over each window, padding included in the count (flax's default count_include_pad). */
export function avgPool(x: Tensor, windowShape: readonly number[], o: PoolOptions = {}): Tensor {
  const summed = lax.reduceWindowSum(x, windowOptions(x, windowShape, o, 'avg_pool'));
  return jnp.divide(summed, windowShape.reduce((a, b) => a * b, 1));
}
