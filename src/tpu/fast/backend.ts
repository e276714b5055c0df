/**
 * What a fast-path implementation provides: a strided batched GEMM, the reductions and
 * top-k on canonical (outer, r, inner) / (rows, n) views, and scratch that the GEMM can
 * read without a copy. The kernels in this folder map each primitive onto these.
 */
import type { FastBackend } from './types.js';

/** f32 operands and results (Float32Array) or raw bf16 bits (Uint16Array). */
export type FloatArray = Float32Array | Uint16Array;

/**
 * Layout of one strided batched GEMM, C[b](m, n) = sum_k A[b](m, k) B[b](k, n), held in a
 * reused Float64Array so a call allocates nothing. Offsets and strides are in elements.
 */
export const GEMM_DESC_LENGTH = 15;
export enum Gemm {
  Batch = 0,
  M = 1,
  N = 2,
  K = 3,
  AOffset = 4,
  ABatch = 5,
  ARow = 6,
  ACol = 7,
  BOffset = 8,
  BBatch = 9,
  BRow = 10,
  BCol = 11,
  COffset = 12,
  CBatch = 13,
  CRow = 14,
}

export enum ReduceKind {
  Sum = 0,
  Max = 1,
  Min = 2,
}

export interface KernelBackend {
  readonly name: FastBackend;
  /** Runs the GEMM described by `desc`; false (nothing written) when this backend cannot. */
  gemm(a: FloatArray, b: FloatArray, c: FloatArray, desc: Float64Array): boolean;
  /** x viewed as (outer, r, inner) reduced over r into out (outer, inner); f32 accumulation. */
  reduce(kind: ReduceKind, x: FloatArray, out: FloatArray, outer: number, r: number, inner: number): boolean;
  /** The k largest of each row of x (rows, n), descending, lower index first on ties. */
  topK(x: FloatArray, values: FloatArray, indices: Int32Array, rows: number, n: number, k: number): boolean;
  /**
   * Optional native patch extraction for conv (see conv.ts for the layout); `desc` is
   * [batch, feat, spatial, batchStride, featStride, then per spatial dim: inSize, inStride,
   * kernelSize, outSize, windowStride, padLow, lhsDilation, rhsDilation]. False: not done.
   */
  im2col?(x: FloatArray, patches: Float32Array, desc: Float64Array): boolean;
  /**
   * Optional native PartialReduce (approx_max_k's first stage) of the f32 row
   * x[offset, offset + n) into `bins` strided bins: best value and position per bin, ranked
   * as the reference ranks them. False: not done (the caller runs its own loop).
   */
  partialReduce?(x: Float32Array, offset: number, n: number, bins: number, best: Float32Array, at: Int32Array): boolean;
  /**
   * Three scratch Float32Arrays of at least `l0`, `l1`, `l2` elements, reused across calls
   * (grow-only), placed where `gemm` reads them without a copy. Valid until the next
   * scratch() or gemm() call on this backend; null when memory is exhausted.
   */
  scratch(l0: number, l1: number, l2: number): readonly Float32Array[] | null;
}
