/**
 * Family B, windowed reductions: lax.reduce_window_{sum,max,min} and the VJP of
 * reduce_window_max, select_and_scatter_add (XLA ReduceWindow / SelectAndScatter).
 *
 * Geometry (XLA `Window`, see window_util.ts): output position x of a dimension covers the
 * taps x * stride - padLow + k * windowDilation of the base-dilated, padded operand. Taps
 * that land in padding or in a base-dilation hole read the reduction's identity
 * (0 for sum, -inf / INT32_MIN / false for max, +inf / INT32_MAX / true for min).
 *
 * Numerics: taps are visited row-major over the window dims. f32 sums round to f32 after
 * every add (`Math.fround`), starting from +0; bf16 sums accumulate in f32 and round to
 * bf16 once, as reduce_sum does (ops.ts); i32 sums wrap like int32. max/min propagate NaN
 * (lax.max/lax.min), and on ties, -0 against +0 included, keep the earlier tap's value.
 */
import { type DType, readElement, writeElement } from '../dtype.js';
import type { PrimitiveParams, WindowParams } from '../ops.js';
import { type PrimitiveDefs, ShapeError } from '../primitive.js';
import { type AbstractValue, type TensorView, sameShape, sizeOf, stridesOf } from '../tensor.js';
import { nextIndex, unravelIndex } from './index_space.js';
import { type WindowDim, windowInputIndex, windowOutputSize, windowProblem } from './window_util.js';

type ReduceWindowName = 'reduce_window_sum' | 'reduce_window_max' | 'reduce_window_min';
type WindowName = ReduceWindowName | 'select_and_scatter_add';

/** The WindowParams of an operand of `shape` as one WindowDim per dimension; throws ShapeError when invalid. */
function windowDims(op: WindowName, inputs: readonly AbstractValue[], shape: readonly number[], p: WindowParams): WindowDim[] {
  const rank = shape.length;
  const lists: [string, readonly unknown[] | undefined][] = [
    ['windowDimensions', p.windowDimensions],
    ['windowStrides', p.windowStrides],
    ['padding', p.padding],
    ['baseDilation', p.baseDilation],
    ['windowDilation', p.windowDilation],
  ];
  for (const [name, list] of lists) {
    if (list !== undefined && list.length !== rank) {
      throw new ShapeError(op, inputs, `${name} has ${list.length} entries for an operand of rank ${rank}`);
    }
  }
  const dims: WindowDim[] = shape.map((_, d) => ({
    size: p.windowDimensions[d]!,
    stride: p.windowStrides[d]!,
    padLow: p.padding[d]![0],
    padHigh: p.padding[d]![1],
    baseDilation: p.baseDilation?.[d] ?? 1,
    windowDilation: p.windowDilation?.[d] ?? 1,
  }));
  const problem = windowProblem(shape, dims);
  if (problem !== null) throw new ShapeError(op, inputs, problem);
  return dims;
}

function windowedShape(shape: readonly number[], dims: readonly WindowDim[]): number[] {
  return shape.map((size, d) => windowOutputSize(size, dims[d]!));
}

/**
 * Walks the windows of one operand: `forEachTap(out, visit)` calls `visit(flatInputIndex)`
 * for every tap of the window at output multi-index `out` that reads a real operand element
 * (not padding, not a dilation hole), row-major over the window dims.
 */
class WindowWalker {
  private readonly strides: number[];
  private readonly windowShape: number[];
  private readonly tap: number[];
  constructor(
    private readonly shape: readonly number[],
    private readonly dims: readonly WindowDim[],
  ) {
    this.strides = stridesOf(shape);
    this.windowShape = dims.map((w) => w.size);
    this.tap = new Array<number>(dims.length).fill(0);
  }

  forEachTap(out: readonly number[], visit: (inputIndex: number) => void): void {
    const { shape, dims, strides, tap } = this;
    tap.fill(0);
    do {
      let offset = 0;
      let real = true;
      for (let d = 0; d < dims.length; d++) {
        const i = windowInputIndex(out[d]!, tap[d]!, shape[d]!, dims[d]!);
        if (i < 0) {
          real = false;
          break;
        }
        offset += i * strides[d]!;
      }
      if (real) visit(offset);
    } while (nextIndex(tap, this.windowShape));
  }
}

// ---- reduce_window_{sum,max,min} --------------------------------------------------------

interface WindowReduction {
  identity(dtype: DType): number;
  combine(acc: number, x: number, dtype: DType): number;
  /** Whether bool operands are allowed (sum is numeric only, as in jax.lax). */
  readonly allowsBool: boolean;
}

function addWithin(dtype: DType, acc: number, x: number): number {
  return dtype === 'i32' ? (acc + x) | 0 : Math.fround(acc + x);
}

const REDUCTIONS: Record<ReduceWindowName, WindowReduction> = {
  reduce_window_sum: {
    identity: () => 0,
    combine: (acc, x, dtype) => addWithin(dtype, acc, x),
    allowsBool: false,
  },
  reduce_window_max: {
    identity: (dtype) => (dtype === 'i32' ? -2147483648 : dtype === 'bool' ? 0 : -Infinity),
    combine: (acc, x) => (Number.isNaN(acc) || Number.isNaN(x) ? NaN : x > acc ? x : acc),
    allowsBool: true,
  },
  reduce_window_min: {
    identity: (dtype) => (dtype === 'i32' ? 2147483647 : dtype === 'bool' ? 1 : Infinity),
    combine: (acc, x) => (Number.isNaN(acc) || Number.isNaN(x) ? NaN : x < acc ? x : acc),
    allowsBool: true,
  },
};

function reduceWindowShape(op: ReduceWindowName) {
  return (inputs: readonly AbstractValue[], params: WindowParams): AbstractValue[] => {
    if (inputs.length !== 1) throw new ShapeError(op, inputs, `expects 1 operand, got ${inputs.length}`);
    const x = inputs[0]!;
    if (x.dtype === 'bool' && !REDUCTIONS[op].allowsBool) throw new ShapeError(op, inputs, `operand must have a number dtype, got bool`);
    const dims = windowDims(op, inputs, x.shape, params);
    return [{ shape: windowedShape(x.shape, dims), dtype: x.dtype }];
  };
}

function reduceWindowReference(op: ReduceWindowName) {
  return (inputs: readonly TensorView[], outputs: readonly TensorView[], params: WindowParams): void => {
    const x = inputs[0]!;
    const out = outputs[0]!;
    const reduction = REDUCTIONS[op];
    const dims = windowDims(op, inputs, x.shape, params);
    const outShape = windowedShape(x.shape, dims);
    const walker = new WindowWalker(x.shape, dims);
    const outIndex = new Array<number>(outShape.length).fill(0);
    const total = sizeOf(outShape);
    for (let o = 0; o < total; o++) {
      unravelIndex(o, outShape, outIndex);
      let acc = reduction.identity(x.dtype);
      walker.forEachTap(outIndex, (i) => {
        acc = reduction.combine(acc, readElement(x.dtype, x.data, i), x.dtype);
      });
      writeElement(out.dtype, out.data, o, acc);
    }
  };
}

// ---- select_and_scatter_add -------------------------------------------------------------

type SelectAndScatterParams = PrimitiveParams['select_and_scatter_add'];

function selectAndScatterShape(inputs: readonly AbstractValue[], params: SelectAndScatterParams): AbstractValue[] {
  const op = 'select_and_scatter_add';
  if (inputs.length !== 2) throw new ShapeError(op, inputs, `expects 2 operands (source, operand), got ${inputs.length}`);
  const [source, operand] = inputs as [AbstractValue, AbstractValue];
  if (source.dtype !== operand.dtype) throw new ShapeError(op, inputs, `source dtype ${source.dtype} differs from operand dtype ${operand.dtype}`);
  if (operand.dtype === 'bool') throw new ShapeError(op, inputs, `operand must have a number dtype, got bool`);
  const dims = windowDims(op, inputs, operand.shape, params);
  const windowed = windowedShape(operand.shape, dims);
  if (!sameShape(source.shape, windowed)) {
    throw new ShapeError(op, inputs, `source shape [${source.shape}] must equal the windowed operand shape [${windowed}]`);
  }
  return [{ shape: [...operand.shape], dtype: operand.dtype }];
}

/**
 * XLA SelectAndScatter with select = ge and scatter = add: for each window (one per source
 * element, row-major), the selected tap starts as the first real tap and moves to each later
 * tap t for which `!(operand[selected] >= operand[t])`, so the first maximum wins; padding and
 * dilation holes are never selected. The source element is then added at the selected
 * position. Sums accumulate in source row-major order with f32 rounding (bf16 outputs round
 * once at the end; i32 wraps).
 */
function selectAndScatterReference(
  inputs: readonly TensorView[],
  outputs: readonly TensorView[],
  params: SelectAndScatterParams,
): void {
  const [source, operand] = inputs as [TensorView, TensorView];
  const out = outputs[0]!;
  const dims = windowDims('select_and_scatter_add', inputs, operand.shape, params);
  const walker = new WindowWalker(operand.shape, dims);
  const sums = new Float64Array(operand.data.length);
  const sourceIndex = new Array<number>(source.shape.length).fill(0);
  for (let s = 0; s < source.data.length; s++) {
    unravelIndex(s, source.shape, sourceIndex);
    let selected = -1;
    let selectedValue = 0;
    walker.forEachTap(sourceIndex, (i) => {
      const v = readElement(operand.dtype, operand.data, i);
      if (selected < 0 || !(selectedValue >= v)) {
        selected = i;
        selectedValue = v;
      }
    });
    if (selected >= 0) sums[selected] = addWithin(operand.dtype, sums[selected]!, readElement(source.dtype, source.data, s));
  }
  for (let i = 0; i < sums.length; i++) writeElement(out.dtype, out.data, i, sums[i]!);
}

export const WINDOW_PRIMS: PrimitiveDefs<WindowName> = {
  reduce_window_sum: {
    name: 'reduce_window_sum',
    shape: reduceWindowShape('reduce_window_sum'),
    reference: reduceWindowReference('reduce_window_sum'),
  },
  reduce_window_max: {
    name: 'reduce_window_max',
    shape: reduceWindowShape('reduce_window_max'),
    reference: reduceWindowReference('reduce_window_max'),
  },
  reduce_window_min: {
    name: 'reduce_window_min',
    shape: reduceWindowShape('reduce_window_min'),
    reference: reduceWindowReference('reduce_window_min'),
  },
  select_and_scatter_add: {
    name: 'select_and_scatter_add',
    shape: selectAndScatterShape,
    reference: selectAndScatterReference,
  },
};
