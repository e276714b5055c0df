/**
 * Index arithmetic over row-major tensors, shared by the family-B reference kernels
 * (contraction, window, sort, approx top-k). Readable rather than fast: these build
 * small offset tables once per call.
 */
import { stridesOf } from '../tensor.js';

/**
 * The flat offset, in a row-major tensor of `shape`, of every multi-index over `dims`
 * (the other dims held at 0), enumerated row-major over `dims` in the order given:
 * `dims[0]` varies slowest. An empty `dims` gives `[0]`.
 */
export function offsetsOver(shape: readonly number[], dims: readonly number[]): number[] {
  const strides = stridesOf(shape);
  let offsets = [0];
  for (const d of dims) {
    const next: number[] = [];
    for (const base of offsets) {
      for (let i = 0; i < shape[d]!; i++) next.push(base + i * strides[d]!);
    }
    offsets = next;
  }
  return offsets;
}

/** Writes the multi-index of flat position `flat` in a row-major `shape` into `out`. */
export function unravelIndex(flat: number, shape: readonly number[], out: number[]): void {
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]!;
    out[d] = flat % size;
    flat = Math.floor(flat / size);
  }
}

/**
 * Advances `index` to the next multi-index of `shape` in row-major order.
 * Returns false (and leaves `index` all zeros) after the last one.
 */
export function nextIndex(index: number[], shape: readonly number[]): boolean {
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = index[d]! + 1;
    if (index[d]! < shape[d]!) return true;
    index[d] = 0;
  }
  return false;
}

/** True when `dims` are distinct integers in [0, rank). */
export function areValidDims(dims: readonly number[], rank: number): boolean {
  const seen = new Set<number>();
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d >= rank || seen.has(d)) return false;
    seen.add(d);
  }
  return true;
}

/** True when `perm` is a permutation of 0..rank-1. */
export function isPermutation(perm: readonly number[], rank: number): boolean {
  return perm.length === rank && areValidDims(perm, rank);
}

/**
 * Views a tensor of `shape` as [outer, size, inner] around `axis`: every "line" along
 * the axis starts at `outerIndex * size * inner + innerIndex` and steps by `inner`.
 */
export function linesAlong(shape: readonly number[], axis: number): { outer: number; size: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  return { outer, size: shape[axis]!, inner };
}
