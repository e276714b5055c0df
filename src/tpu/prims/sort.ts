/**
 * Family B, sorting: lax.sort (multi-operand, lexicographic keys) and lax.top_k.
 *
 * Orders (see float_order.ts): sort compares keys as JAX does after canonicalising floats
 * (-0 ties with +0, NaNs tie and come last); top_k uses the IEEE total order (+0 above -0,
 * NaN above +inf). Both kernels are stable: equal keys keep their input order, which also
 * satisfies isStable = false (any order of ties is then allowed).
 */
import { readElement } from '../dtype.js';
import type { PrimitiveParams } from '../ops.js';
import { type PrimitiveDefs, ShapeError } from '../primitive.js';
import { type AbstractValue, type TensorView, sameShape } from '../tensor.js';
import { compareSortKeys, compareTotalOrder } from './float_order.js';
import { linesAlong } from './index_space.js';

type SortName = 'sort' | 'top_k';

// ---- sort -------------------------------------------------------------------------------

type SortParams = PrimitiveParams['sort'];

function sortShape(inputs: readonly AbstractValue[], params: SortParams): AbstractValue[] {
  const op = 'sort';
  if (inputs.length < 1) throw new ShapeError(op, inputs, 'expects at least 1 operand');
  const first = inputs[0]!;
  for (const x of inputs) {
    if (!sameShape(x.shape, first.shape)) throw new ShapeError(op, inputs, 'all operands must have the same shape');
  }
  const rank = first.shape.length;
  if (!Number.isInteger(params.dimension) || params.dimension < 0 || params.dimension >= rank) {
    throw new ShapeError(op, inputs, `dimension ${params.dimension} is out of range for rank ${rank}`);
  }
  if (!Number.isInteger(params.numKeys) || params.numKeys < 1 || params.numKeys > inputs.length) {
    throw new ShapeError(op, inputs, `numKeys ${params.numKeys} must be in [1, ${inputs.length}]`);
  }
  return inputs.map((x) => ({ shape: [...x.shape], dtype: x.dtype }));
}

/**
 * Sorts every line along `dimension`: positions are ordered by the first numKeys operands
 * lexicographically (ascending, compareSortKeys), ties by position, and every operand is
 * permuted the same way. Output values are the inputs' own elements (a -0 stays -0).
 */
function sortReference(inputs: readonly TensorView[], outputs: readonly TensorView[], params: SortParams): void {
  const { outer, size, inner } = linesAlong(inputs[0]!.shape, params.dimension);
  const keys = inputs.slice(0, params.numKeys);
  const keyValues = keys.map(() => new Float64Array(size));
  const order = new Array<number>(size);
  for (let o = 0; o < outer; o++) {
    for (let n = 0; n < inner; n++) {
      const base = o * size * inner + n;
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k]!;
        for (let i = 0; i < size; i++) keyValues[k]![i] = readElement(key.dtype, key.data, base + i * inner);
      }
      for (let i = 0; i < size; i++) order[i] = i;
      order.sort((i, j) => {
        for (const values of keyValues) {
          const c = compareSortKeys(values[i]!, values[j]!);
          if (c !== 0) return c;
        }
        return i - j;
      });
      for (let t = 0; t < inputs.length; t++) {
        const src = inputs[t]!.data;
        const dst = outputs[t]!.data;
        // Raw element copy (bf16 bits, i32, bool) so values pass through unchanged.
        for (let i = 0; i < size; i++) dst[base + i * inner] = src[base + order[i]! * inner]!;
      }
    }
  }
}

// ---- top_k ------------------------------------------------------------------------------

type TopKParams = PrimitiveParams['top_k'];

function topKShape(inputs: readonly AbstractValue[], params: TopKParams): AbstractValue[] {
  const op = 'top_k';
  if (inputs.length !== 1) throw new ShapeError(op, inputs, `expects 1 operand, got ${inputs.length}`);
  const x = inputs[0]!;
  if (x.shape.length < 1) throw new ShapeError(op, inputs, 'operand must have rank >= 1');
  if (x.dtype === 'bool') throw new ShapeError(op, inputs, 'operand must have a number dtype, got bool');
  const n = x.shape[x.shape.length - 1]!;
  if (!Number.isInteger(params.k) || params.k < 0 || params.k > n) {
    throw new ShapeError(op, inputs, `k ${params.k} must be in [0, ${n}] (the last axis)`);
  }
  const shape = [...x.shape.slice(0, -1), params.k];
  return [
    { shape, dtype: x.dtype },
    { shape: [...shape], dtype: 'i32' },
  ];
}

/**
 * Positions 0..n-1 of one line ordered best first: by `compare` on their values (negative
 * when the first is better), ties by lower position.
 */
export function rankPositions(values: ArrayLike<number>, compare: (a: number, b: number) => number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  order.sort((i, j) => compare(values[i]!, values[j]!) || i - j);
  return order;
}

/** Descending under the total order: the comparator for "larger is better". */
export function largerFirst(a: number, b: number): number {
  return compareTotalOrder(b, a);
}

/** For each row of the last axis, the k largest values (descending, lower index first on ties) and their indices. */
function topKReference(inputs: readonly TensorView[], outputs: readonly TensorView[], params: TopKParams): void {
  const x = inputs[0]!;
  const [values, indices] = outputs as [TensorView, TensorView];
  const n = x.shape[x.shape.length - 1]!;
  const rows = n === 0 ? 0 : x.data.length / n;
  const k = params.k;
  const row = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) row[i] = readElement(x.dtype, x.data, r * n + i);
    const order = rankPositions(row, largerFirst);
    for (let j = 0; j < k; j++) {
      values.data[r * k + j] = x.data[r * n + order[j]!]!;
      indices.data[r * k + j] = order[j]!;
    }
  }
}

export const SORT_PRIMS: PrimitiveDefs<SortName> = {
  sort: { name: 'sort', shape: sortShape, reference: sortReference },
  top_k: { name: 'top_k', shape: topKShape, reference: topKReference },
};
