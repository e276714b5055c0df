/**
 * Shared helpers for the family-A primitive modules (elementwise, layout, reduce,
 * indexing): shape-rule checks that throw ShapeError, and row-major index iteration for
 * the reference kernels.
 */
import { type DType, roundToBf16 } from '../dtype.js';
import type { PrimitiveName } from '../ops.js';
import { type PrimitiveDef, type PrimitiveDefs, ShapeError } from '../primitive.js';
import type { AbstractValue } from '../tensor.js';

/** A PrimitiveDefs object built by one factory for a list of names (e.g. every unary op). */
export function defsFor<N extends PrimitiveName>(names: readonly N[], make: (name: N) => PrimitiveDef<N>): PrimitiveDefs<N> {
  const defs: Partial<Record<N, PrimitiveDef<N>>> = {};
  for (const name of names) defs[name] = make(name);
  // Each entry was made for its own name, which is what the mapped type asks.
  return defs as unknown as PrimitiveDefs<N>;
}

// ---- shape-rule checks -----------------------------------------------------------------

export function expectArity(op: string, inputs: readonly AbstractValue[], n: number): void {
  if (inputs.length !== n) {
    throw new ShapeError(op, inputs, `expected ${n} operand${n === 1 ? '' : 's'}, got ${inputs.length}`);
  }
}

/** Throws unless `v.dtype` is one of `allowed`; `what` names the operand in the message. */
export function expectDType(
  op: string,
  inputs: readonly AbstractValue[],
  v: AbstractValue,
  allowed: readonly DType[],
  what = 'operand',
): void {
  if (!allowed.includes(v.dtype)) {
    throw new ShapeError(op, inputs, `${what} dtype ${v.dtype} not supported; expected one of ${allowed.join(', ')}`);
  }
}

export function isScalar(v: AbstractValue): boolean {
  return v.shape.length === 0;
}

export function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}

/** Throws unless `dims` is a list of distinct integers in [0, rank). */
export function expectDims(
  op: string,
  inputs: readonly AbstractValue[],
  dims: readonly number[],
  rank: number,
  what: string,
  { sorted = false }: { sorted?: boolean } = {},
): void {
  const seen = new Set<number>();
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (!isNonNegInt(d) || d >= rank) {
      throw new ShapeError(op, inputs, `${what} [${dims.join(',')}] has ${d}, out of range for rank ${rank}`);
    }
    if (seen.has(d)) throw new ShapeError(op, inputs, `${what} [${dims.join(',')}] repeats ${d}`);
    if (sorted && i > 0 && d < dims[i - 1]!) {
      throw new ShapeError(op, inputs, `${what} [${dims.join(',')}] must be sorted`);
    }
    seen.add(d);
  }
}

/** Throws unless `shape` is a list of non-negative integers. */
export function expectShapeParam(op: string, inputs: readonly AbstractValue[], shape: readonly number[], what: string): void {
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    throw new ShapeError(op, inputs, `${what} [${String(shape)}] must be non-negative integers`);
  }
}

// ---- numbers -----------------------------------------------------------------------------

/** `x` rounded as storing it with `dtype` would round it (for intermediate results kept in a dtype). */
export function roundToDType(dtype: DType, x: number): number {
  switch (dtype) {
    case 'f32':
      return Math.fround(x);
    case 'bf16':
      return roundToBf16(x);
    case 'i32':
      return x | 0;
    case 'bool':
      return x !== 0 ? 1 : 0;
  }
}

// ---- index iteration ---------------------------------------------------------------------

/**
 * Calls `body(index, flat)` for every multi-index of `shape` in row-major order; `flat` is
 * the row-major position. `index` is one array mutated in place: copy it to keep it.
 */
export function forEachIndex(shape: readonly number[], body: (index: number[], flat: number) => void): void {
  const rank = shape.length;
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  const index = new Array<number>(rank).fill(0);
  for (let flat = 0; flat < total; flat++) {
    body(index, flat);
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
}

/** Row-major offset of `index` given `strides`. */
export function offsetOf(index: readonly number[], strides: readonly number[]): number {
  let off = 0;
  for (let d = 0; d < index.length; d++) off += index[d]! * strides[d]!;
  return off;
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
