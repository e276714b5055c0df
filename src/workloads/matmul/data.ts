/**
 * The benchmark's operands: small integers from a seeded generator, so every partial sum
 * of the sharded dot and of the all-reduce is exact in f32 (and the inputs exact in bf16):
 * the result is bit-for-bit the same whatever the reduction order, which lets the checksum
 * prove the numbers against a single-core reference.
 */
import { type DType, allocHostArray, f32ToBf16Bits } from '../../tpu/dtype.js';
import type { TensorView } from '../../tpu/tensor.js';
import { mulberry32 } from '../../tpu/host_rng.js';

/** Integer values in [-VALUE_RANGE, VALUE_RANGE]: with k terms a dot output is at most k·R², exact in f32 for k·R² < 2^24. */
export const VALUE_RANGE = 2;


export function integerMatrix(dtype: DType, rows: number, cols: number, seed: number): TensorView {
  const next = mulberry32(seed);
  const data = allocHostArray(dtype, rows * cols);
  for (let i = 0; i < data.length; i++) {
    const v = Math.floor(next() * (2 * VALUE_RANGE + 1)) - VALUE_RANGE;
    data[i] = dtype === 'bf16' ? f32ToBf16Bits(v) : v;
  }
  return { dtype, shape: [rows, cols], data };
}

/** A[m, k] and B[k, n] of the benchmark for `seed`. */
export function matmulOperands(dtype: DType, m: number, k: number, n: number, seed: number): { a: TensorView; b: TensorView } {
  return { a: integerMatrix(dtype, m, k, seed), b: integerMatrix(dtype, k, n, seed + 1) };
}

/** Sum of a tensor's elements as numbers (f64), the benchmark's checksum. */
export function checksum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s;
}
