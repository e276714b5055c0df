/**
 * The single-thread reference of every collective: what JAX computes, given every rank's
 * operand, on host arrays. Reductions fold ranks in order 0..p-1 with the same per-step
 * rounding as the kernels (movement.ts), so integer-valued data match bit for bit whatever
 * order an algorithm uses; other data match within the rounding of a reordered sum.
 */
import { allocHostArray } from '../tpu/dtype.js';
import { type TensorView, sizeOf, stridesOf } from '../tpu/tensor.js';
import { CollectiveUsageError } from './errors.js';
import { combine } from './movement.js';
import {
  type AllGatherParams,
  type AllToAllParams,
  type ReduceScatterParams,
  type ReduceOp,
  allGatherShape,
  allToAllShape,
  checkPerm,
  checkReduceDType,
  checkRoot,
  reduceScatterShape,
} from './semantics.js';

function checkSame(op: string, xs: readonly TensorView[]): void {
  if (xs.length === 0) throw new CollectiveUsageError(`${op}: no operands`);
  const a = xs[0]!;
  for (const x of xs) {
    if (x.dtype !== a.dtype || x.shape.join(',') !== a.shape.join(',')) {
      throw new CollectiveUsageError(`${op}: operands differ: ${a.dtype}[${a.shape}] vs ${x.dtype}[${x.shape}]`);
    }
  }
}

function out(dtype: TensorView['dtype'], shape: readonly number[]): TensorView {
  return { dtype, shape: [...shape], data: allocHostArray(dtype, sizeOf(shape)) };
}

export function referenceAllReduce(xs: readonly TensorView[], op: ReduceOp): TensorView[] {
  checkSame('psum', xs);
  const { dtype, shape } = xs[0]!;
  checkReduceDType('psum', dtype);
  const r = out(dtype, shape);
  r.data.set(xs[0]!.data);
  for (let k = 1; k < xs.length; k++) {
    const x = xs[k]!.data;
    for (let i = 0; i < r.data.length; i++) r.data[i] = combine(dtype, op, r.data[i]!, x[i]!);
  }
  return xs.map(() => ({ ...r, data: r.data.slice() }));
}

/** Element index of `idx` (a multi-index) in row-major `shape`. */
function flatIndex(idx: readonly number[], strides: readonly number[]): number {
  let f = 0;
  for (let i = 0; i < idx.length; i++) f += idx[i]! * strides[i]!;
  return f;
}

/** Calls f(multiIndex) for every index of `shape`, row-major. */
function forEachIndex(shape: readonly number[], f: (idx: number[]) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

export function referenceAllGather(xs: readonly TensorView[], q: AllGatherParams): TensorView[] {
  checkSame('all_gather', xs);
  const { dtype, shape } = xs[0]!;
  const p = xs.length;
  const oshape = allGatherShape(shape, p, q);
  const r = out(dtype, oshape);
  const os = stridesOf(oshape);
  const is = stridesOf(shape);
  xs.forEach((x, j) => {
    forEachIndex(shape, (idx) => {
      const o = q.tiled
        ? idx.map((v, d) => (d === q.axis ? v + j * shape[d]! : v))
        : [...idx.slice(0, q.axis), j, ...idx.slice(q.axis)];
      r.data[flatIndex(o, os)] = x.data[flatIndex(idx, is)]!;
    });
  });
  return xs.map(() => ({ ...r, data: r.data.slice() }));
}

export function referenceReduceScatter(xs: readonly TensorView[], q: ReduceScatterParams): TensorView[] {
  const [sum] = referenceAllReduce(xs, q.op);
  const { shape } = xs[0]!;
  const p = xs.length;
  const oshape = reduceScatterShape(shape, p, q);
  const sd = q.scatterDimension;
  const tile = q.tiled ? shape[sd]! / p : 1;
  const is = stridesOf(shape);
  return xs.map((_, j) => {
    const r = out(sum!.dtype, oshape);
    const os = stridesOf(oshape);
    forEachIndex(oshape, (idx) => {
      const src = q.tiled
        ? idx.map((v, d) => (d === sd ? v + j * tile : v))
        : [...idx.slice(0, sd), j, ...idx.slice(sd)];
      r.data[flatIndex(idx, os)] = sum!.data[flatIndex(src, is)]!;
    });
    return r;
  });
}

export function referenceAllToAll(xs: readonly TensorView[], q: AllToAllParams): TensorView[] {
  checkSame('all_to_all', xs);
  const { dtype, shape } = xs[0]!;
  const p = xs.length;
  const oshape = allToAllShape(shape, p, q);
  const is = stridesOf(shape);
  // out_r[..., concat = j*c + i, ...] = x_j[..., split = r*s + i', ...] (tiled); untiled
  // squeezes/inserts the size-1 / size-p dims around that.
  return xs.map((_, r) => {
    const res = out(dtype, oshape);
    const os = stridesOf(oshape);
    forEachIndex(oshape, (o) => {
      let src: number[];
      let j: number;
      if (q.tiled) {
        const s = shape[q.splitAxis]! / p;
        const c = q.splitAxis === q.concatAxis ? s : shape[q.concatAxis]!;
        j = Math.floor(o[q.concatAxis]! / c);
        src = o.map((v, d) => (d === q.concatAxis ? v % c : v));
        src[q.splitAxis] = (q.splitAxis === q.concatAxis ? src[q.splitAxis]! : o[q.splitAxis]!) + r * s;
      } else {
        // Output: split axis removed, a size-p axis inserted at concat_axis.
        j = o[q.concatAxis]!;
        const rest = [...o.slice(0, q.concatAxis), ...o.slice(q.concatAxis + 1)];
        src = [...rest.slice(0, q.splitAxis), r, ...rest.slice(q.splitAxis)];
      }
      res.data[flatIndex(o, os)] = xs[j]!.data[flatIndex(src, is)]!;
    });
    return res;
  });
}

export function referencePermute(xs: readonly TensorView[], perm: readonly (readonly [number, number])[]): TensorView[] {
  checkSame('ppermute', xs);
  checkPerm(perm, xs.length);
  const { dtype, shape } = xs[0]!;
  const res = xs.map(() => out(dtype, shape));
  for (const [s, d] of perm) res[d]!.data.set(xs[s]!.data);
  return res;
}

export function referenceBroadcast(xs: readonly TensorView[], root: number): TensorView[] {
  checkSame('broadcast', xs);
  checkRoot(root, xs.length);
  return xs.map(() => ({ ...xs[root]!, shape: [...xs[root]!.shape], data: xs[root]!.data.slice() }));
}
