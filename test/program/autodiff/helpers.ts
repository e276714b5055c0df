/** Shared test helpers: a seeded generator and tensor builders. */
import type { DType } from '../../../src/tpu/dtype.js';
import { tensorFrom } from '../../../src/tpu/tensor.js';
import { Tensor } from '../../../src/program/tracer.js';
import { mulberry32 as rng } from '../../../src/tpu/host_rng.js';

export { rng };

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function tensor(shape: readonly number[], values: ArrayLike<number>, dtype: DType = 'f32'): Tensor {
  return Tensor.concrete(tensorFrom(dtype, shape, values));
}

export function uniform(r: () => number, shape: readonly number[], lo = -1, hi = 1, dtype: DType = 'f32'): Tensor {
  return tensor(shape, Array.from({ length: sizeOf(shape) }, () => lo + (hi - lo) * r()), dtype);
}

/** Values spaced at least `gap` apart in random order: no ties, so max/sort/top-k are smooth nearby. */
export function distinct(r: () => number, shape: readonly number[], gap = 0.1): Tensor {
  const n = sizeOf(shape);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return tensor(shape, order.map((k) => (k - n / 2) * gap + 0.3 * gap * r()));
}

/** Magnitudes in [lo, hi] with random signs (away from zero). */
export function awayFromZero(r: () => number, shape: readonly number[], lo = 0.3, hi = 1): Tensor {
  return tensor(shape, Array.from({ length: sizeOf(shape) }, () => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r())));
}

export function scalarI32(v: number): Tensor {
  return tensor([], [v], 'i32');
}

export function i32(shape: readonly number[], values: readonly number[]): Tensor {
  return tensor(shape, values, 'i32');
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
