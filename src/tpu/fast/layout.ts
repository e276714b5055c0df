/**
 * Maps primitive operands onto the canonical views the backends run: dot_general onto a
 * strided batched GEMM, a reduction over adjacent axes onto (outer, r, inner). Everything
 * here is O(rank) bookkeeping on the shapes, without allocation.
 */

/** Row-major stride of dim `d` of `shape`, in elements. */
export function strideOf(shape: readonly number[], d: number): number {
  let s = 1;
  for (let i = d + 1; i < shape.length; i++) s *= shape[i]!;
  return s;
}

/** Result of `collapseDims`: the group's element count and the stride of its flat index. */
export const group = { size: 1, stride: 0 };

/**
 * Whether dims `dims[0..count)` of a row-major `shape`, in that order (first slowest), can be
 * addressed as one flat index with one stride; sets `group` when so. Size-1 dims are free.
 */
export function collapseDims(shape: readonly number[], dims: ArrayLike<number>, count: number): boolean {
  let size = 1;
  let stride = 0;
  let expected = -1;
  for (let j = count - 1; j >= 0; j--) {
    const d = dims[j]!;
    const n = shape[d]!;
    if (n === 1) continue;
    const s = strideOf(shape, d);
    if (expected < 0) stride = s;
    else if (s !== expected) return false;
    expected = s * n;
    size *= n;
  }
  for (let j = 0; j < count; j++) if (shape[dims[j]!] === 0) size = 0;
  group.size = size;
  group.stride = stride;
  return true;
}

function contains(list: readonly number[], d: number): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] === d) return true;
  return false;
}

/** Writes the dims of a rank-`rank` operand in neither list, ascending, into `out`; returns their count. */
export function freeDims(rank: number, a: readonly number[], b: readonly number[], out: Int32Array): number {
  let n = 0;
  for (let d = 0; d < rank; d++) if (!contains(a, d) && !contains(b, d)) out[n++] = d;
  return n;
}

/**
 * Whether `axes` (distinct, in any order) cover a contiguous run of dims; sets `reduceView`
 * to x's (outer, r, inner) split around them when so.
 */
export const reduceView = { outer: 1, r: 1, inner: 1 };
export function planReduce(shape: readonly number[], axes: readonly number[]): boolean {
  if (axes.length === 0) {
    reduceView.outer = 1;
    reduceView.r = 1;
    let total = 1;
    for (let i = 0; i < shape.length; i++) total *= shape[i]!;
    reduceView.inner = total;
    return true;
  }
  let lo = shape.length;
  let hi = -1;
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i]!;
    if (!Number.isInteger(a) || a < 0 || a >= shape.length) return false;
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  if (hi - lo + 1 !== axes.length) return false;
  let outer = 1;
  let r = 1;
  let inner = 1;
  for (let i = 0; i < shape.length; i++) {
    if (i < lo) outer *= shape[i]!;
    else if (i > hi) inner *= shape[i]!;
    else r *= shape[i]!;
  }
  reduceView.outer = outer;
  reduceView.r = r;
  reduceView.inner = inner;
  return true;
}
