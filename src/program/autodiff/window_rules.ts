/**
 * Differentiation rules of the windowed reductions (JAX jax/_src/lax/windowed_reductions.py).
 *
 * - reduce_window_sum is linear; its transpose pads the cotangent (interior padding undoes
 *   the stride) and sums windows again (JAX _reduce_window_sum_transpose_rule).
 * - reduce_window_max/min: the VJP scatters the cotangent to each window's selected
 *   element with select_and_scatter_add (min selects the max of -x); the JVP gathers the
 *   tangent at that element ("select and gather").
 * - select_and_scatter_add is linear in its source; its transpose is the same select and
 *   gather, so second derivatives through max pooling work.
 *
 * Select-and-gather is built from primitives: a constant table of the operand element each
 * window tap reads (or a sentinel for padding), a gather of the window patches, argmax over
 * each patch (first on ties, like XLA's `ge` select), and a one-hot sum.
 */
import { isFloat } from '../../tpu/dtype.js';
import type { PrimitiveParams, WindowParams } from '../../tpu/ops.js';
import { windowInputIndex, windowOutputSize, type WindowDim } from '../../tpu/prims/window_util.js';
import { sizeOf, stridesOf, tensorFrom } from '../../tpu/tensor.js';
import { Tensor, bind1 } from '../tracer.js';
import { broadcastInDim, compare, full, iota, neg, pad, reduceSum, reshape, scalar, select, zerosLike } from './builders.js';
import { convVjpLhsPadding } from './contraction_rules.js';
import { linearJvp } from './linear.js';
import type { RuleFamily } from './rule_types.js';

type WindowName = 'reduce_window_sum' | 'reduce_window_max' | 'reduce_window_min' | 'select_and_scatter_add';

function windowDims(p: WindowParams): WindowDim[] {
  return p.windowDimensions.map((size, d) => ({
    size,
    stride: p.windowStrides[d]!,
    padLow: p.padding[d]![0],
    padHigh: p.padding[d]![1],
    baseDilation: p.baseDilation?.[d] ?? 1,
    windowDilation: p.windowDilation?.[d] ?? 1,
  }));
}

/**
 * For every output position and window tap (row-major over both), the flat operand index
 * the tap reads, or `n` (one past the end: the sentinel slot) when it reads padding.
 */
function patchIndexTable(shape: readonly number[], p: WindowParams): { table: Tensor; outShape: number[]; taps: number } {
  const dims = windowDims(p);
  const outShape = dims.map((w, d) => windowOutputSize(shape[d]!, w));
  const taps = sizeOf(p.windowDimensions);
  const outCount = sizeOf(outShape);
  const n = sizeOf(shape);
  const strides = stridesOf(shape);
  const rank = shape.length;
  const values = new Int32Array(outCount * taps);
  const out = new Array<number>(rank).fill(0);
  const tap = new Array<number>(rank).fill(0);
  let k = 0;
  for (let o = 0; o < outCount; o++) {
    tap.fill(0);
    for (let t = 0; t < taps; t++) {
      let flat = 0;
      for (let d = 0; d < rank && flat >= 0; d++) {
        const i = windowInputIndex(out[d]!, tap[d]!, shape[d]!, dims[d]!);
        flat = i < 0 ? -1 : flat + i * strides[d]!;
      }
      values[k++] = flat < 0 ? n : flat;
      for (let d = rank - 1; d >= 0; d--) {
        if (++tap[d]! < p.windowDimensions[d]!) break;
        tap[d] = 0;
      }
    }
    for (let d = rank - 1; d >= 0; d--) {
      if (++out[d]! < outShape[d]!) break;
      out[d] = 0;
    }
  }
  return { table: Tensor.concrete(tensorFrom('i32', [outCount * taps, 1], values)), outShape, taps };
}

/** The window patches of `x` as [outputs, taps], padding read as `fill`. */
function patches(x: Tensor, table: Tensor, outCount: number, taps: number, fill: number): Tensor {
  const n = sizeOf(x.shape);
  const extended = bind1('concatenate', [reshape(x, [n]), full([1], fill, x.dtype)], { dimension: 0 });
  const gathered = bind1('gather', [extended, table], {
    dimensionNumbers: { offsetDims: [], collapsedSliceDims: [0], startIndexMap: [0] },
    sliceSizes: [1],
  });
  return reshape(gathered, [outCount, taps]);
}

/** For each window of `operand`, the element of `t` at the window's max (first on ties). */
function selectAndGather(t: Tensor, operand: Tensor, p: WindowParams): Tensor {
  const { table, outShape, taps } = patchIndexTable(operand.shape, p);
  const outCount = sizeOf(outShape);
  const choice = bind1('argmax', [patches(operand, table, outCount, taps, -Infinity)], { axis: 1, indexDtype: 'i32' });
  const onehot = compare('eq', iota('i32', [outCount, taps], 1), broadcastInDim(choice, [outCount, taps], [0]));
  const tp = patches(t, table, outCount, taps, 0);
  return reshape(reduceSum(select(onehot, tp, zerosLike(tp)), [1]), outShape);
}

function selectAndScatterAdd(source: Tensor, operand: Tensor, p: WindowParams): Tensor {
  return bind1('select_and_scatter_add', [source, operand], p);
}

function reduceWindowSumTranspose(ct: Tensor, x: Tensor, p: PrimitiveParams['reduce_window_sum']): Tensor {
  const rank = x.shape.length;
  const ones = new Array<number>(rank).fill(1);
  const baseDilation = p.baseDilation ?? ones;
  const windowDilation = p.windowDilation ?? ones;
  const pads = convVjpLhsPadding(x.shape, p.windowDimensions, p.windowStrides, ct.shape, p.padding, baseDilation, windowDilation);
  const padded = pad(
    ct,
    scalar(0, ct.dtype),
    pads.map(([lo, hi], d) => [lo, hi, p.windowStrides[d]! - 1] as const),
  );
  return bind1('reduce_window_sum', [padded], {
    windowDimensions: p.windowDimensions,
    windowStrides: baseDilation,
    padding: ones.map(() => [0, 0] as const),
    baseDilation: ones,
    windowDilation,
  });
}

const floatIn = (x: Tensor | undefined): boolean => x !== undefined && isFloat(x.dtype);

export const WINDOW_RULES: RuleFamily<WindowName> = {
  jvp: {
    reduce_window_sum: linearJvp('reduce_window_sum'),
    reduce_window_max: ([x], [t], _o, p) => (floatIn(x) ? [selectAndGather(t!, x!, p)] : [null]),
    reduce_window_min: ([x], [t], _o, p) => (floatIn(x) ? [selectAndGather(t!, neg(x!), p)] : [null]),
    select_and_scatter_add: linearJvp('select_and_scatter_add', (i) => i === 0),
  },
  vjp: {
    reduce_window_sum: ([x], _o, [ct], p, [a]) => (a && floatIn(x) ? [reduceWindowSumTranspose(ct!, x!, p)] : [null]),
    reduce_window_max: ([x], _o, [ct], p, [a]) => (a && floatIn(x) ? [selectAndScatterAdd(ct!, x!, p)] : [null]),
    reduce_window_min: ([x], _o, [ct], p, [a]) => (a && floatIn(x) ? [selectAndScatterAdd(ct!, neg(x!), p)] : [null]),
    select_and_scatter_add: ([source, operand], _o, [ct], p, [a]) =>
      a && floatIn(source) ? [selectAndGather(ct!, operand!, p), null] : [null, null],
  },
};
