/** Axis and shape bookkeeping shared by the jax.numpy modules: normalising axes, broadcasting shapes. */
import type { Tensor } from '../tracer.js';
import { broadcastInDim } from '../lax.js';

/** `axis` in [0, rank); negative axes count from the end. Errors name the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new RangeError(`${op}: axis ${axis} is out of bounds for an array of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalised, sorted, distinct axes; `undefined`/`null` means every axis. */
export function normalizeAxes(op: string, axis: number | readonly number[] | null | undefined, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const out = list.map((a) => normalizeAxis(op, a, rank));
  if (new Set(out).size !== out.length) throw new RangeError(`${op}: repeated axis in [${list.join(', ')}]`);
  return out.sort((a, b) => a - b);
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

/** numpy broadcasting of shapes (right-aligned; size 1 stretches). */
export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw new RangeError(`${op}: shapes ${shapes.map(shapeStr).join(', ')} cannot be broadcast together`);
      }
    }
  }
  return out;
}

/** jnp.broadcast_to: right-aligned broadcast of `x` to `shape`. */
export function broadcastTo(x: Tensor, shape: readonly number[], op = 'broadcast_to'): Tensor {
  const xs = x.shape;
  if (xs.length === shape.length && xs.every((d, i) => d === shape[i])) return x;
  if (xs.length > shape.length) {
    throw new RangeError(`${op}: cannot broadcast ${x} to shape ${shapeStr(shape)} of lower rank`);
  }
  const offset = shape.length - xs.length;
  // broadcast_in_dim stretches size-1 operand dims itself; only other mismatches are errors.
  const keep: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const d = xs[i]!;
    const target = shape[offset + i]!;
    if (d !== target && d !== 1) {
      throw new RangeError(`${op}: cannot broadcast ${x} to shape ${shapeStr(shape)}`);
    }
    keep.push(offset + i);
  }
  return broadcastInDim(x, shape, keep);
}
