/** Shape manipulation (jnp.reshape, transpose, expand_dims, squeeze, concatenate, stack, split, ...). */
import { sizeOf } from '../../tpu/tensor.js';
import type { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import { type ArrayLike, asTensorOf, asarray, resultType } from './dtypes.js';
import { broadcastShapes, broadcastTo, normalizeAxes, normalizeAxis } from './axes.js';

/** jnp.reshape; one dim may be -1 (inferred). */
export function reshape(x: ArrayLike, shape: readonly number[]): Tensor {
  const t = asarray(x);
  const minus = shape.filter((d) => d === -1).length;
  if (minus > 1) throw new RangeError(`reshape: more than one -1 in [${shape.join(',')}] for ${t}`);
  let newShape = [...shape];
  if (minus === 1) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || t.size % known !== 0) {
      throw new RangeError(`reshape: cannot reshape ${t} into [${shape.join(',')}]`);
    }
    newShape = shape.map((d) => (d === -1 ? t.size / known : d));
  }
  if (sizeOf(newShape) !== t.size || newShape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new RangeError(`reshape: cannot reshape ${t} (${t.size} elements) into [${shape.join(',')}]`);
  }
  if (newShape.length === t.ndim && newShape.every((d, i) => d === t.shape[i])) return t;
  return lax.reshape(t, newShape);
}

export function ravel(x: ArrayLike): Tensor {
  return reshape(x, [-1]);
}

/** jnp.transpose; without axes, reverses the dims. */
export function transpose(x: ArrayLike, axes?: readonly number[]): Tensor {
  const t = asarray(x);
  const perm = axes === undefined ? t.shape.map((_, i) => t.ndim - 1 - i) : axes.map((a) => normalizeAxis('transpose', a, t.ndim));
  if (perm.length !== t.ndim || new Set(perm).size !== perm.length) {
    throw new RangeError(`transpose: axes [${axes?.join(',')}] are not a permutation of the dims of ${t}`);
  }
  if (perm.every((p, i) => p === i)) return t;
  return lax.transpose(t, perm);
}

export function swapaxes(x: ArrayLike, axis1: number, axis2: number): Tensor {
  const t = asarray(x);
  const a = normalizeAxis('swapaxes', axis1, t.ndim);
  const b = normalizeAxis('swapaxes', axis2, t.ndim);
  const perm = t.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return transpose(t, perm);
}

/** jnp.moveaxis: moves `source` to `destination`, keeping the other dims in order. */
export function moveaxis(x: ArrayLike, source: number, destination: number): Tensor {
  const t = asarray(x);
  const s = normalizeAxis('moveaxis', source, t.ndim);
  const d = normalizeAxis('moveaxis', destination, t.ndim);
  const rest = t.shape.map((_, i) => i).filter((i) => i !== s);
  rest.splice(d, 0, s);
  return transpose(t, rest);
}

/** jnp.expand_dims: inserts size-1 dims at `axis` (positions in the result). */
export function expandDims(x: ArrayLike, axis: number | readonly number[]): Tensor {
  const t = asarray(x);
  const axes = normalizeAxes('expand_dims', axis, t.ndim + (typeof axis === 'number' ? 1 : axis.length));
  const shape: number[] = [];
  let src = 0;
  for (let i = 0; i < t.ndim + axes.length; i++) shape.push(axes.includes(i) ? 1 : t.shape[src++]!);
  return lax.reshape(t, shape);
}

/** jnp.squeeze: removes the given size-1 dims (all of them by default). */
export function squeeze(x: ArrayLike, axis?: number | readonly number[]): Tensor {
  const t = asarray(x);
  const axes = axis === undefined ? t.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normalizeAxes('squeeze', axis, t.ndim);
  for (const a of axes) {
    if (t.shape[a] !== 1) throw new RangeError(`squeeze: dim ${a} of ${t} has size ${t.shape[a]}, not 1`);
  }
  if (axes.length === 0) return t;
  return lax.reshape(t, t.shape.filter((_, i) => !axes.includes(i)));
}

/** jnp.concatenate along `axis` (default 0); operands are promoted to one dtype. */
export function concatenate(xs: readonly ArrayLike[], axis = 0): Tensor {
  if (xs.length === 0) throw new RangeError('concatenate: needs at least one array');
  const dtype = resultType(...xs);
  const ts = xs.map((x) => asTensorOf(x, dtype));
  const rank = ts[0]!.ndim;
  if (rank === 0) throw new RangeError('concatenate: zero-dimensional arrays cannot be concatenated');
  const a = normalizeAxis('concatenate', axis, rank);
  for (const t of ts) {
    if (t.ndim !== rank || t.shape.some((d, i) => i !== a && d !== ts[0]!.shape[i])) {
      throw new RangeError(`concatenate: shapes must agree except on axis ${a}: ${ts.map(String).join(', ')}`);
    }
  }
  if (ts.length === 1) return ts[0]!;
  return lax.concatenate(ts, a);
}

/** jnp.stack: joins arrays of one shape along a new axis. */
export function stack(xs: readonly ArrayLike[], axis = 0): Tensor {
  if (xs.length === 0) throw new RangeError('stack: needs at least one array');
  const ts = xs.map((x) => asarray(x));
  const shape = ts[0]!.shape;
  for (const t of ts) {
    if (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new RangeError(`stack: all arrays must have one shape: ${ts.map(String).join(', ')}`);
    }
  }
  const a = normalizeAxis('stack', axis, shape.length + 1);
  return concatenate(
    ts.map((t) => expandDims(t, a)),
    a,
  );
}

/**
 * jnp.split: `sections` equal parts, or cut at the given indices, along `axis`.
 */
export function split(x: ArrayLike, sections: number | readonly number[], axis = 0): Tensor[] {
  const t = asarray(x);
  const a = normalizeAxis('split', axis, t.ndim);
  const n = t.shape[a]!;
  let cuts: number[];
  if (typeof sections === 'number') {
    if (!Number.isInteger(sections) || sections <= 0 || n % sections !== 0) {
      throw new RangeError(`split: ${t} axis ${a} (size ${n}) does not divide into ${sections} equal sections`);
    }
    cuts = Array.from({ length: sections - 1 }, (_, i) => ((i + 1) * n) / sections);
  } else {
    cuts = sections.map((c) => Math.min(Math.max(c < 0 ? c + n : c, 0), n));
  }
  const bounds = [0, ...cuts, n];
  const parts: Tensor[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = t.shape.map((_, d) => (d === a ? bounds[i]! : 0));
    const limit = t.shape.map((s, d) => (d === a ? Math.max(bounds[i]!, bounds[i + 1]!) : s));
    parts.push(lax.slice(t, start, limit));
  }
  return parts;
}

/** jnp.flip along the given axes (all by default). */
export function flip(x: ArrayLike, axis?: number | readonly number[]): Tensor {
  const t = asarray(x);
  return lax.rev(t, normalizeAxes('flip', axis, t.ndim));
}

/** jnp.broadcast_to. */
export function broadcastArrayTo(x: ArrayLike, shape: readonly number[]): Tensor {
  return broadcastTo(asarray(x), shape);
}

/** jnp.broadcast_arrays. */
export function broadcastArrays(...xs: readonly ArrayLike[]): Tensor[] {
  const ts = xs.map((x) => asarray(x));
  const shape = broadcastShapes('broadcast_arrays', ...ts.map((t) => t.shape));
  return ts.map((t) => broadcastTo(t, shape, 'broadcast_arrays'));
}

/** jnp.pad with constant mode: `padWidth` is [before, after] per dim (or one pair for all). */
export function pad(
  x: ArrayLike,
  padWidth: readonly (readonly [number, number])[] | readonly [number, number],
  constantValue: number = 0,
): Tensor {
  const t = asarray(x);
  const pairs: (readonly [number, number])[] =
    typeof padWidth[0] === 'number'
      ? t.shape.map(() => padWidth as readonly [number, number])
      : [...(padWidth as readonly (readonly [number, number])[])];
  if (pairs.length !== t.ndim) throw new RangeError(`pad: ${pairs.length} pad pairs for ${t}`);
  return lax.pad(
    t,
    asTensorOf(constantValue, t.dtype),
    pairs.map(([lo, hi]) => [lo, hi, 0] as const),
  );
}

/** jnp.tile: repeats the whole array `reps` times along each dim. */
export function tile(x: ArrayLike, reps: readonly number[]): Tensor {
  let t = asarray(x);
  const rank = Math.max(t.ndim, reps.length);
  t = reshape(t, [...new Array<number>(rank - t.ndim).fill(1), ...t.shape]);
  const r = [...new Array<number>(rank - reps.length).fill(1), ...reps];
  // Broadcast into an interleaved [r0, d0, r1, d1, ...] shape, then merge pairs.
  const inter = t.shape.flatMap((d, i) => [r[i]!, d]);
  const b = lax.broadcastInDim(t, inter, t.shape.map((_, i) => 2 * i + 1));
  return lax.reshape(b, t.shape.map((d, i) => d * r[i]!));
}

/** jnp.repeat of every element `repeats` times along `axis`. */
export function repeat(x: ArrayLike, repeats: number, axis: number): Tensor {
  const t = asarray(x);
  const a = normalizeAxis('repeat', axis, t.ndim);
  const inter = [...t.shape.slice(0, a + 1), repeats, ...t.shape.slice(a + 1)];
  const dims = t.shape.map((_, i) => (i <= a ? i : i + 1));
  const b = lax.broadcastInDim(t, inter, dims);
  return lax.reshape(b, t.shape.map((d, i) => (i === a ? d * repeats : d)));
}
