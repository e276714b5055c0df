/**
 * Indexing: jnp.take / take_along_axis (gather), basic indexing with ints, slices and
 * new axes (static slice + reshape), functional updates in the manner of `x.at[...]`,
 * dynamic slices, and one-hot encoding.
 */
import type { DType } from '../../tpu/dtype.js';
import { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import { type ArrayLike, asTensorOf, asarray } from './dtypes.js';
import { broadcastTo, normalizeAxis } from './axes.js';
import { add, where, less } from './elementwise.js';
import { expandDims, reshape } from './shape.js';

/** Negative indices count from the end (as numpy); out-of-range ones are clamped by gather. */
function wrapNegative(idx: Tensor, n: number): Tensor {
  return where(less(idx, 0), add(idx, n), idx);
}

function asIndices(x: ArrayLike): Tensor {
  const t = asarray(x);
  if (t.dtype !== 'i32') throw new TypeError(`indices must be i32, got ${t}`);
  return t;
}

/**
 * jnp.take along `axis` (the flattened array without one): the result's shape is
 * x.shape[:axis] + indices.shape + x.shape[axis+1:]. Out-of-range indices are clamped.
 */
export function take(x: ArrayLike, indices: ArrayLike, axis?: number): Tensor {
  let t = asarray(x);
  if (axis === undefined) {
    t = reshape(t, [-1]);
    axis = 0;
  }
  const a = normalizeAxis('take', axis, t.ndim);
  const idx = wrapNegative(asIndices(indices), t.shape[a]!);
  const ri = idx.ndim;
  const offsetDims = [...Array.from({ length: a }, (_, i) => i), ...Array.from({ length: t.ndim - a - 1 }, (_, i) => a + ri + i)];
  return lax.gather(
    t,
    reshape(idx, [...idx.shape, 1]),
    { offsetDims, collapsedSliceDims: [a], startIndexMap: [a] },
    t.shape.map((d, i) => (i === a ? 1 : d)),
  );
}

/** jnp.take_along_axis: `indices` has x's rank; picks along `axis` at every other position. */
export function takeAlongAxis(x: ArrayLike, indices: ArrayLike, axis: number): Tensor {
  const t = asarray(x);
  const a = normalizeAxis('take_along_axis', axis, t.ndim);
  let idx = asIndices(indices);
  if (idx.ndim !== t.ndim) throw new RangeError(`take_along_axis: indices ${idx} must have the rank of ${t}`);
  const outShape = t.shape.map((d, i) => (i === a ? idx.shape[a]! : Math.max(d, idx.shape[i]!)));
  idx = broadcastTo(wrapNegative(idx, t.shape[a]!), outShape, 'take_along_axis');
  // Full index vectors: the position itself on every dim but `axis`.
  const parts = t.shape.map((_, d) => (d === a ? idx : lax.iota('i32', outShape, d)));
  const starts = lax.concatenate(
    parts.map((p) => reshape(p, [...outShape, 1])),
    outShape.length,
  );
  const all = t.shape.map((_, i) => i);
  return lax.gather(t, starts, { offsetDims: [], collapsedSliceDims: all, startIndexMap: all }, t.shape.map(() => 1));
}

// ---- basic indexing -------------------------------------------------------------------------

/** A numpy slice: start, stop and step as in `start:stop:step` (any may be omitted). */
export interface SliceSpec {
  readonly start?: number | null;
  readonly stop?: number | null;
  readonly step?: number | null;
}

/** `s(1, 3)` is numpy's `1:3`; `s()` is `:`. */
export function s(start?: number | null, stop?: number | null, step?: number | null): SliceSpec {
  return { start: start ?? null, stop: stop ?? null, step: step ?? null };
}

/** One entry of an index: an int, a slice, `null` (new axis), '...' (the remaining dims) or an index tensor (one per index). */
export type IndexEntry = number | SliceSpec | null | '...' | Tensor;

interface Resolved {
  /** Per source dim: start, size and step of the kept elements; `int` marks dims that are dropped. */
  readonly dims: { start: number; size: number; step: number; int: boolean }[];
  /** Result shape of the basic part, with new axes. */
  readonly resultShape: number[];
  /** The advanced (tensor) index and the source dim it applies to, if any. */
  readonly tensor: { idx: Tensor; dim: number; position: number } | null;
}

function resolveIndex(op: string, t: Tensor, index: readonly IndexEntry[]): Resolved {
  const used = index.filter((e) => e !== null && e !== '...').length;
  if (used > t.ndim) throw new RangeError(`${op}: too many indices (${used}) for ${t}`);
  if (index.filter((e) => e === '...').length > 1) throw new RangeError(`${op}: more than one '...' in the index`);
  const entries: IndexEntry[] = [];
  for (const e of index) {
    if (e === '...') for (let k = 0; k < t.ndim - used; k++) entries.push(s());
    else entries.push(e);
  }
  while (entries.filter((e) => e !== null).length < t.ndim) entries.push(s());
  const dims: Resolved['dims'] = [];
  const resultShape: number[] = [];
  let tensor: Resolved['tensor'] = null;
  let d = 0;
  for (const e of entries) {
    if (e === null) {
      resultShape.push(1);
      continue;
    }
    const n = t.shape[d]!;
    if (e instanceof Tensor) {
      if (tensor) throw new RangeError(`${op}: only one index tensor is supported`);
      tensor = { idx: e, dim: d, position: resultShape.length };
      dims.push({ start: 0, size: n, step: 1, int: false });
      resultShape.push(n);
    } else if (typeof e === 'number') {
      if (!Number.isInteger(e) || e < -n || e >= n) throw new RangeError(`${op}: index ${e} is out of bounds for dim ${d} of ${t}`);
      dims.push({ start: e < 0 ? e + n : e, size: 1, step: 1, int: true });
    } else {
      const sl = e as SliceSpec;
      const step = sl.step ?? 1;
      if (!Number.isInteger(step) || step === 0) throw new RangeError(`${op}: slice step must be a non-zero integer, got ${step}`);
      const norm = (v: number | null | undefined, dflt: number, lo: number, hi: number): number => {
        if (v === null || v === undefined) return dflt;
        const w = v < 0 ? v + n : v;
        return Math.min(Math.max(w, lo), hi);
      };
      const start = step > 0 ? norm(sl.start, 0, 0, n) : norm(sl.start, n - 1, -1, n - 1);
      const stop = step > 0 ? norm(sl.stop, n, 0, n) : norm(sl.stop, -1, -1, n - 1);
      const size = Math.max(0, Math.ceil((stop - start) / step));
      dims.push({ start, size, step, int: false });
      resultShape.push(size);
    }
    d++;
  }
  return { dims, resultShape, tensor };
}

/** The region a resolved index selects, as a tensor with the int dims kept at size 1. */
function sliceRegion(t: Tensor, dims: Resolved['dims']): Tensor {
  let x = t;
  const rev = dims.flatMap((r, i) => (r.step < 0 ? [i] : []));
  if (rev.length > 0) x = lax.rev(x, rev);
  const n = t.shape;
  const starts = dims.map((r, i) => (r.step < 0 ? n[i]! - 1 - r.start : r.start));
  const steps = dims.map((r) => Math.abs(r.step));
  const limits = dims.map((r, i) => (r.size === 0 ? starts[i]! : starts[i]! + (r.size - 1) * steps[i]! + 1));
  const identity = dims.every((r, i) => starts[i] === 0 && steps[i] === 1 && limits[i] === n[i]);
  return identity ? x : lax.slice(x, starts, limits, steps.some((st) => st !== 1) ? steps : undefined);
}

/**
 * numpy basic indexing, `x[...]`: ints drop a dim, slices (see `s`) keep one, `null` adds
 * one, '...' fills; one index tensor gathers along its dim (jnp's advanced indexing).
 * Example: `index(x, 0, s(1, null, 2), null)` is `x[0, 1::2, None]`.
 */
export function index(x: ArrayLike, ...idx: IndexEntry[]): Tensor {
  const t = asarray(x);
  const { dims, resultShape, tensor } = resolveIndex('index', t, idx);
  let out = reshape(sliceRegion(t, dims), resultShape);
  if (tensor) {
    out = take(out, tensor.idx, tensor.position);
  }
  return out;
}

/** Functional updates of an indexed region, as jnp's `x.at[idx].set / add / get`. */
export interface AtUpdater {
  get(): Tensor;
  set(values: ArrayLike): Tensor;
  add(values: ArrayLike): Tensor;
  multiply(values: ArrayLike): Tensor;
}

/**
 * `at(x, ...idx)`: ints and slices (any step) build the region statically — the update is
 * placed with lax.pad and merged with a mask, so it differentiates like any other op. A
 * single index tensor (with `add`) scatters along its dim, summing duplicates.
 */
export function at(x: ArrayLike, ...idx: IndexEntry[]): AtUpdater {
  const t = asarray(x);
  if (idx.some((e) => e === null)) throw new RangeError('at: new axes (null) are not allowed in an update index');
  const { dims, resultShape, tensor } = resolveIndex('at', t, idx);
  const regionShape = dims.map((r) => r.size);

  // The region's values placed into x's shape: interior padding realises the steps.
  const place = (region: Tensor, fill: Tensor): Tensor => {
    let r = region;
    const rev = dims.flatMap((d, i) => (d.step < 0 ? [i] : []));
    const config = dims.map((d, i) => {
      const step = Math.abs(d.step);
      const first = d.step < 0 ? d.start - (d.size - 1) * step : d.start;
      const span = d.size === 0 ? 0 : (d.size - 1) * step + 1;
      return [first, t.shape[i]! - first - span, step - 1] as const;
    });
    if (rev.length > 0) r = lax.rev(r, rev);
    return lax.pad(r, fill, config);
  };
  const valuesIn = (values: ArrayLike): Tensor =>
    reshape(broadcastTo(asTensorOf(values, t.dtype), resultShape, 'at'), regionShape);
  const mask = (): Tensor =>
    place(lax.broadcastInDim(asTensorOf(true, 'bool'), regionShape, []), asTensorOf(false, 'bool'));
  const basicOnly = (what: string): void => {
    if (tensor) throw new RangeError(`at(...).${what}: index tensors support only add`);
  };

  return {
    get: () => index(t, ...idx),
    set(values) {
      basicOnly('set');
      return lax.select(mask(), place(valuesIn(values), asTensorOf(0, t.dtype)), t);
    },
    multiply(values) {
      basicOnly('multiply');
      return lax.mul(t, place(valuesIn(values), asTensorOf(1, t.dtype)));
    },
    add(values) {
      if (!tensor) return lax.add(t, place(valuesIn(values), asTensorOf(0, t.dtype)));
      if (dims.some((d, i) => i !== tensor.dim && (d.int || d.start !== 0 || d.step !== 1 || d.size !== t.shape[i]))) {
        throw new RangeError('at(...).add with an index tensor: the other entries must be full slices');
      }
      return indexAdd(t, tensor.idx, values, tensor.dim);
    },
  };
}

/**
 * Adds `updates` into x at `indices` along `axis` (duplicates accumulate), as
 * `x.at[(..., idx, ...)].add(updates)`: updates have shape x.shape[:axis] + idx.shape + x.shape[axis+1:].
 */
export function indexAdd(x: ArrayLike, indices: ArrayLike, updates: ArrayLike, axis = 0): Tensor {
  const t = asarray(x);
  const a = normalizeAxis('index_add', axis, t.ndim);
  const idx = wrapNegative(asIndices(indices), t.shape[a]!);
  const ri = idx.ndim;
  const updShape = [...t.shape.slice(0, a), ...idx.shape, ...t.shape.slice(a + 1)];
  const upd = broadcastTo(asTensorOf(updates, t.dtype), updShape, 'index_add');
  const updateWindowDims = [...Array.from({ length: a }, (_, i) => i), ...Array.from({ length: t.ndim - a - 1 }, (_, i) => a + ri + i)];
  return lax.scatterAdd(t, reshape(idx, [...idx.shape, 1]), upd, {
    updateWindowDims,
    insertedWindowDims: [a],
    scatterDimsToOperandDims: [a],
  });
}

// ---- dynamic slices -------------------------------------------------------------------------

function startTensors(starts: readonly ArrayLike[]): Tensor[] {
  return starts.map((st) => {
    const t = asTensorOf(st, 'i32');
    if (t.ndim !== 0) throw new RangeError(`dynamic slice starts must be scalars, got ${t}`);
    return t;
  });
}

/** lax.dynamic_slice with starts given as numbers or i32 scalar tensors (clamped into range). */
export function dynamicSlice(x: ArrayLike, starts: readonly ArrayLike[], sizes: readonly number[]): Tensor {
  return lax.dynamicSlice(asarray(x), startTensors(starts), sizes);
}

export function dynamicUpdateSlice(x: ArrayLike, update: ArrayLike, starts: readonly ArrayLike[]): Tensor {
  const t = asarray(x);
  return lax.dynamicUpdateSlice(t, asTensorOf(update, t.dtype), startTensors(starts));
}

/** lax.dynamic_slice_in_dim: `size` elements of `axis` from `start`. */
export function dynamicSliceInDim(x: ArrayLike, start: ArrayLike, size: number, axis = 0): Tensor {
  const t = asarray(x);
  const a = normalizeAxis('dynamic_slice_in_dim', axis, t.ndim);
  const starts = t.shape.map((_, i) => (i === a ? start : 0));
  return dynamicSlice(t, starts, t.shape.map((d, i) => (i === a ? size : d)));
}

// ---- one-hot ----------------------------------------------------------------------------------

/** jax.nn.one_hot: a new axis (last by default) of `numClasses`; out-of-range ids give all zeros. */
export function oneHot(x: ArrayLike, numClasses: number, { dtype = 'f32' as DType, axis = -1 } = {}): Tensor {
  const t = asarray(x);
  const a = normalizeAxis('one_hot', axis, t.ndim + 1);
  const outShape = [...t.shape.slice(0, a), numClasses, ...t.shape.slice(a)];
  const ids = broadcastTo(expandDims(t, a), outShape, 'one_hot');
  const classes = lax.iota(t.dtype === 'i32' ? 'i32' : t.dtype === 'bool' ? 'i32' : t.dtype, outShape, a);
  const hit = lax.eq(t.dtype === 'bool' ? lax.convertElementType(ids, 'i32') : ids, classes);
  return lax.convertElementType(hit, dtype);
}
