/**
 * Reductions: reduce_sum|max|min|prod|and|or over axes, argmax/argmin, and the
 * cumulative cumsum|cumprod|cummax|cummin. Semantics follow jax.lax / XLA.
 *
 * Order of accumulation (what makes the reference reproducible): each output element
 * folds its inputs one at a time in row-major order of the reduced elements (the reduced
 * axes walked in increasing dimension order), starting from the identity. f32 and bf16
 * accumulate in an f32 accumulator (Math.fround after every step), so reduce_sum is the
 * sequential f32 sum; the result is rounded to the output dtype on store. XLA on TPU sums
 * in a tree, so a distributed or fast-path sum matches this within f32 summation error, not
 * bitwise. i32 wraps modulo 2^32; max/min propagate NaN as XLA does.
 */
import { type DType, readElement, writeElement } from '../dtype.js';
import { type PrimitiveDef, type PrimitiveDefs, ShapeError } from '../primitive.js';
import { type AbstractValue, type TensorView, stridesOf } from '../tensor.js';
import { defsFor, expectArity, expectDims, expectDType, forEachIndex, isNonNegInt, offsetOf } from './util.js';

/** A monoid per dtype class: identity and step. Present classes are the accepted dtypes. */
interface Monoid {
  readonly identity: number;
  readonly combine: (acc: number, v: number) => number;
}
interface Reducer {
  readonly float?: Monoid;
  readonly int?: Monoid;
  readonly bool?: Monoid;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const floatMax = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const floatMin = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));

const SUM: Reducer = {
  float: { identity: 0, combine: (a, v) => Math.fround(a + v) },
  int: { identity: 0, combine: (a, v) => (a + v) | 0 },
};
const PROD: Reducer = {
  float: { identity: 1, combine: (a, v) => Math.fround(a * v) },
  int: { identity: 1, combine: Math.imul },
};
const MAX: Reducer = {
  float: { identity: -Infinity, combine: floatMax },
  int: { identity: INT32_MIN, combine: (a, v) => Math.max(a, v) },
  bool: { identity: 0, combine: (a, v) => a | v },
};
const MIN: Reducer = {
  float: { identity: Infinity, combine: floatMin },
  int: { identity: INT32_MAX, combine: (a, v) => Math.min(a, v) },
  bool: { identity: 1, combine: (a, v) => a & v },
};
const AND: Reducer = {
  int: { identity: -1, combine: (a, v) => a & v },
  bool: { identity: 1, combine: (a, v) => a & v },
};
const OR: Reducer = {
  int: { identity: 0, combine: (a, v) => a | v },
  bool: { identity: 0, combine: (a, v) => a | v },
};

function acceptedDTypes(r: Reducer): DType[] {
  return [...(r.float ? (['f32', 'bf16'] as const) : []), ...(r.int ? (['i32'] as const) : []), ...(r.bool ? (['bool'] as const) : [])];
}

function monoidFor(op: string, r: Reducer, dtype: DType): Monoid {
  const m = dtype === 'f32' || dtype === 'bf16' ? r.float : dtype === 'i32' ? r.int : r.bool;
  if (!m) throw new Error(`${op}: no ${dtype} kernel (the shape rule should have rejected it)`);
  return m;
}

// ---- reduce_* over axes ----------------------------------------------------------------------

type ReduceName = 'reduce_sum' | 'reduce_max' | 'reduce_min' | 'reduce_prod' | 'reduce_and' | 'reduce_or';
const REDUCERS: { readonly [K in ReduceName]: Reducer } = {
  reduce_sum: SUM,
  reduce_max: MAX,
  reduce_min: MIN,
  reduce_prod: PROD,
  reduce_and: AND,
  reduce_or: OR,
};

function reduceDef<N extends ReduceName>(name: N): PrimitiveDef<N> {
  const reducer = REDUCERS[name];
  const accepted = acceptedDTypes(reducer);
  return {
    name,
    shape(inputs, { axes }) {
      expectArity(name, inputs, 1);
      const x = inputs[0]!;
      expectDType(name, inputs, x, accepted);
      expectDims(name, inputs, axes, x.shape.length, 'axes');
      return [{ shape: x.shape.filter((_, d) => !axes.includes(d)), dtype: x.dtype }];
    },
    reference(inputs, outputs, { axes }) {
      const x = inputs[0]!;
      const out = outputs[0]!;
      const { combine, identity } = monoidFor(name, reducer, x.dtype);
      const strides = stridesOf(x.shape);
      const reduced = [...axes].sort((a, b) => a - b);
      const kept = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
      const reducedShape = reduced.map((d) => x.shape[d]!);
      const reducedStrides = reduced.map((d) => strides[d]!);
      const keptStrides = kept.map((d) => strides[d]!);
      forEachIndex(out.shape, (outIndex, outFlat) => {
        const base = offsetOf(outIndex, keptStrides);
        let acc = identity;
        forEachIndex(reducedShape, (r) => {
          acc = combine(acc, readElement(x.dtype, x.data, base + offsetOf(r, reducedStrides)));
        });
        writeElement(out.dtype, out.data, outFlat, acc);
      });
      // forEachIndex skips a zero-size output; a rank-0 output is visited once above.
    },
  };
}

// ---- walking one axis ---------------------------------------------------------------------------

/**
 * Calls `line(base, stride, n)` for every 1-D line of `shape` along `axis`: the elements of
 * a line are at base + j * stride for j < n.
 */
function forEachLine(shape: readonly number[], axis: number, line: (base: number, stride: number, n: number) => void): void {
  const strides = stridesOf(shape);
  const outer = shape.map((s, d) => (d === axis ? 1 : s));
  forEachIndex(outer, (index) => line(offsetOf(index, strides), strides[axis]!, shape[axis]!));
}

function expectAxis(op: string, inputs: readonly AbstractValue[], axis: number, rank: number): void {
  if (!isNonNegInt(axis) || axis >= rank) throw new ShapeError(op, inputs, `axis ${axis} out of range for rank ${rank}`);
}

// ---- argmax / argmin --------------------------------------------------------------------------

type ArgName = 'argmax' | 'argmin';

function argDef<N extends ArgName>(name: N): PrimitiveDef<N> {
  // `better(v, best)`: v replaces the current best. NaN beats everything and the first NaN
  // stays (as jnp.argmax/argmin); among equal values the first index stays.
  const better =
    name === 'argmax'
      ? (v: number, best: number) => Number.isNaN(v) || v > best
      : (v: number, best: number) => Number.isNaN(v) || v < best;
  return {
    name,
    shape(inputs, { axis, indexDtype }) {
      expectArity(name, inputs, 1);
      const x = inputs[0]!;
      expectAxis(name, inputs, axis, x.shape.length);
      if (indexDtype !== 'i32') throw new ShapeError(name, inputs, `indexDtype ${String(indexDtype)} must be i32`);
      if (x.shape[axis] === 0) throw new ShapeError(name, inputs, `axis ${axis} has size 0: no ${name} of an empty axis`);
      return [{ shape: x.shape.filter((_, d) => d !== axis), dtype: indexDtype }];
    },
    reference(inputs, outputs, { axis }) {
      const x = inputs[0]!;
      const out = outputs[0]!;
      let o = 0;
      // Lines come in row-major order of the remaining dims, which is the output's order.
      forEachLine(x.shape, axis, (base, stride, n) => {
        let bestIndex = 0;
        let best = readElement(x.dtype, x.data, base);
        for (let j = 1; j < n && !Number.isNaN(best); j++) {
          const v = readElement(x.dtype, x.data, base + j * stride);
          if (better(v, best)) {
            best = v;
            bestIndex = j;
          }
        }
        out.data[o++] = bestIndex;
      });
    },
  };
}

// ---- cumulative -------------------------------------------------------------------------------

type CumName = 'cumsum' | 'cumprod' | 'cummax' | 'cummin';
const CUMULATIVE: { readonly [K in CumName]: Reducer } = {
  cumsum: SUM,
  cumprod: PROD,
  cummax: MAX,
  cummin: MIN,
};

function cumulativeDef<N extends CumName>(name: N): PrimitiveDef<N> {
  const reducer = CUMULATIVE[name];
  const accepted = acceptedDTypes(reducer);
  return {
    name,
    shape(inputs, { axis }) {
      expectArity(name, inputs, 1);
      const x = inputs[0]!;
      expectDType(name, inputs, x, accepted);
      expectAxis(name, inputs, axis, x.shape.length);
      return [{ shape: [...x.shape], dtype: x.dtype }];
    },
    reference(inputs, outputs, { axis, reverse }) {
      const x: TensorView = inputs[0]!;
      const out = outputs[0]!;
      const { combine, identity } = monoidFor(name, reducer, x.dtype);
      // Each output is the running fold (f32 accumulator for floats), rounded to the dtype on store.
      forEachLine(x.shape, axis, (base, stride, n) => {
        let acc = identity;
        for (let step = 0; step < n; step++) {
          const i = base + (reverse ? n - 1 - step : step) * stride;
          acc = combine(acc, readElement(x.dtype, x.data, i));
          writeElement(out.dtype, out.data, i, acc);
        }
      });
    },
  };
}

export const REDUCE_PRIMS: PrimitiveDefs<ReduceName | ArgName | CumName> = {
  ...defsFor<ReduceName>(['reduce_sum', 'reduce_max', 'reduce_min', 'reduce_prod', 'reduce_and', 'reduce_or'], reduceDef),
  ...defsFor<ArgName>(['argmax', 'argmin'], argDef),
  ...defsFor<CumName>(['cumsum', 'cumprod', 'cummax', 'cummin'], cumulativeDef),
};
