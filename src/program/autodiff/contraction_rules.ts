/**
 * Differentiation rules of dot_general and conv_general_dilated. Both are bilinear: the JVP
 * is op(t_lhs, rhs) + op(lhs, t_rhs), and the VJP the transposes, ported from JAX
 * (jax/_src/lax/lax.py `_dot_general_transpose_lhs/rhs`, jax/_src/lax/convolution.py
 * `_conv_general_dilated_transpose_lhs/rhs`).
 */
import { isFloat } from '../../tpu/dtype.js';
import type { ConvDimensionNumbers, PrimitiveParams } from '../../tpu/ops.js';
import { Tensor, bind1 } from '../tracer.js';
import { addAll, convert, reshape, rev, transpose } from './builders.js';
import type { RuleFamily } from './rule_types.js';

type DotParams = PrimitiveParams['dot_general'];
type ConvParams = PrimitiveParams['conv_general_dilated'];

function range(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}

function argsort(xs: readonly number[]): number[] {
  return xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
}

function remaining(rank: number, ...taken: (readonly number[])[]): number[] {
  const drop = new Set(taken.flat());
  return range(0, rank).filter((d) => !drop.has(d));
}

/** Operands of a contraction in the cotangent's dtype (so bf16 × bf16 → f32 transposes in f32). */
function asDType(x: Tensor, like: Tensor): Tensor {
  return convert(x, like.dtype);
}

/** ∂L/∂x of out = dot_general(x, y): dot of the cotangent with y, transposed into x's layout. */
function dotTransposeLhs(g: Tensor, x: Tensor, y: Tensor, p: DotParams, swapAns: boolean): Tensor {
  const [xContract, yContract] = p.contractingDims;
  const [xBatch, yBatch] = p.batchDims;
  const xKept = remaining(x.shape.length, xContract, xBatch);
  const yKept = remaining(y.shape.length, yContract, yBatch);
  const ansBatch = range(0, xBatch.length);
  const ansY = swapAns
    ? range(xBatch.length, yKept.length)
    : range(xBatch.length + xKept.length, yKept.length);
  const xContractSortedByY = argsort(yContract).map((i) => xContract[i]!);
  const outAxes = argsort([...xBatch, ...xKept, ...xContractSortedByY]);
  const d = bind1('dot_general', [g, asDType(y, g)], {
    contractingDims: [ansY, yKept],
    batchDims: [ansBatch, yBatch],
  });
  return convert(transpose(d, outAxes), x.dtype);
}

function dotTransposeRhs(g: Tensor, x: Tensor, y: Tensor, p: DotParams): Tensor {
  const swapped: DotParams = {
    contractingDims: [p.contractingDims[1], p.contractingDims[0]],
    batchDims: [p.batchDims[1], p.batchDims[0]],
  };
  return dotTransposeLhs(g, y, x, swapped, true);
}

// ---- convolution --------------------------------------------------------------------------

const dilateShape = (shape: readonly number[], dilation: readonly number[]): number[] =>
  shape.map((s, i) => (s === 0 ? 0 : 1 + dilation[i]! * (s - 1)));

const pick = (shape: readonly number[], dims: readonly number[]): number[] => dims.map((d) => shape[d]!);

/** JAX _conv_general_vjp_lhs_padding. Also the padding of reduce_window_sum's transpose. */
export function convVjpLhsPadding(
  inShape: readonly number[],
  windowDimensions: readonly number[],
  windowStrides: readonly number[],
  outShape: readonly number[],
  padding: readonly (readonly [number, number])[],
  lhsDilation: readonly number[],
  rhsDilation: readonly number[],
): [number, number][] {
  const lhsDilated = dilateShape(inShape, lhsDilation);
  const rhsDilated = dilateShape(windowDimensions, rhsDilation);
  const outDilated = dilateShape(outShape, windowStrides);
  return padding.map(([lo], i) => {
    const before = rhsDilated[i]! - lo - 1;
    const after = lhsDilated[i]! + rhsDilated[i]! - 1 - outDilated[i]! - before;
    return [before, after];
  });
}

/** JAX _conv_general_vjp_rhs_padding. */
function convVjpRhsPadding(
  inShape: readonly number[],
  windowDimensions: readonly number[],
  windowStrides: readonly number[],
  outShape: readonly number[],
  padding: readonly (readonly [number, number])[],
  lhsDilation: readonly number[],
  rhsDilation: readonly number[],
): [number, number][] {
  const lhsDilated = dilateShape(inShape, lhsDilation);
  const rhsDilated = dilateShape(windowDimensions, rhsDilation);
  const outDilated = dilateShape(outShape, windowStrides);
  return padding.map(([lo], i) => {
    const fromLhs = outDilated[i]! - lhsDilated[i]!;
    const fromRhs = rhsDilated[i]! - lo - 1;
    return [lo, fromLhs + fromRhs];
  });
}

const specTranspose = (spec: readonly number[]): number[] => [spec[1]!, spec[0]!, ...spec.slice(2)];
const spatial = (spec: readonly number[]): number[] => spec.slice(2);

/** Splits dim `src` of x into [size1, rest] (JAX _reshape_axis_out_of). */
function reshapeAxisOutOf(src: number, size1: number, x: Tensor): Tensor {
  const shape = [...x.shape];
  shape.splice(src, 1, size1, shape[src]! / size1);
  return reshape(x, shape);
}

/** Merges dim `src` into dim `dst` (numbered after src's removal) as its major part (JAX _reshape_axis_into). */
function reshapeAxisInto(src: number, dst: number, x: Tensor): Tensor {
  const perm = range(0, x.shape.length).filter((i) => i !== src);
  perm.splice(dst, 0, src);
  const newShape = x.shape.filter((_, i) => i !== src);
  newShape[dst] = newShape[dst]! * x.shape[src]!;
  return reshape(transpose(x, perm), newShape);
}

function conv(lhs: Tensor, rhs: Tensor, p: ConvParams): Tensor {
  return bind1('conv_general_dilated', [lhs, rhs], p);
}

function convTransposeLhs(g: Tensor, lhs: Tensor, rhsIn: Tensor, p: ConvParams): Tensor {
  const { lhsSpec, rhsSpec, outSpec } = p.dimensionNumbers;
  let rhs = asDType(rhsIn, g);
  let featureGroupCount = p.featureGroupCount;
  if (featureGroupCount > 1) {
    rhs = reshapeAxisOutOf(rhsSpec[0]!, featureGroupCount, rhs);
    rhs = reshapeAxisInto(rhsSpec[0]!, rhsSpec[1]!, rhs);
  } else if (p.batchGroupCount > 1) {
    rhs = reshapeAxisOutOf(rhsSpec[0]!, p.batchGroupCount, rhs);
    rhs = reshapeAxisInto(rhsSpec[0]!, rhsSpec[1]!, rhs);
    featureGroupCount = p.batchGroupCount;
  }
  const trans: ConvDimensionNumbers = { lhsSpec: outSpec, rhsSpec: specTranspose(rhsSpec), outSpec: lhsSpec };
  const padding = convVjpLhsPadding(
    pick(lhs.shape, spatial(lhsSpec)),
    pick(rhs.shape, spatial(rhsSpec)),
    p.windowStrides,
    pick(g.shape, spatial(outSpec)),
    p.padding,
    p.lhsDilation,
    p.rhsDilation,
  );
  let out = conv(g, rev(rhs, spatial(rhsSpec)), {
    windowStrides: p.lhsDilation,
    padding,
    lhsDilation: p.windowStrides,
    rhsDilation: p.rhsDilation,
    dimensionNumbers: trans,
    featureGroupCount,
    batchGroupCount: 1,
  });
  if (p.batchGroupCount > 1) {
    out = reshapeAxisOutOf(lhsSpec[1]!, p.batchGroupCount, out);
    out = reshapeAxisInto(lhsSpec[1]!, lhsSpec[0]!, out);
  }
  return convert(out, lhs.dtype);
}

function convTransposeRhs(g: Tensor, lhsIn: Tensor, rhs: Tensor, p: ConvParams): Tensor {
  const dn = p.dimensionNumbers;
  const lhs = asDType(lhsIn, g);
  let featureGroupCount = p.featureGroupCount;
  let batchGroupCount = p.batchGroupCount;
  if (batchGroupCount > 1) {
    featureGroupCount = batchGroupCount;
    batchGroupCount = 1;
  } else if (featureGroupCount > 1) {
    batchGroupCount = featureGroupCount;
    featureGroupCount = 1;
  }
  const trans: ConvDimensionNumbers = {
    lhsSpec: specTranspose(dn.lhsSpec),
    rhsSpec: specTranspose(dn.outSpec),
    outSpec: specTranspose(dn.rhsSpec),
  };
  const padding = convVjpRhsPadding(
    pick(lhs.shape, spatial(dn.lhsSpec)),
    pick(rhs.shape, spatial(dn.rhsSpec)),
    p.windowStrides,
    pick(g.shape, spatial(dn.outSpec)),
    p.padding,
    p.lhsDilation,
    p.rhsDilation,
  );
  const out = conv(lhs, g, {
    windowStrides: p.rhsDilation,
    padding,
    lhsDilation: p.lhsDilation,
    rhsDilation: p.windowStrides,
    dimensionNumbers: trans,
    featureGroupCount,
    batchGroupCount,
  });
  return convert(out, rhs.dtype);
}

export const CONTRACTION_RULES: RuleFamily<'dot_general' | 'conv_general_dilated'> = {
  jvp: {
    dot_general: ([x, y], [tx, ty], [out], p) =>
      isFloat(out!.dtype)
        ? [addAll([tx ? bind1('dot_general', [tx, y!], p) : null, ty ? bind1('dot_general', [x!, ty], p) : null])]
        : [null],
    conv_general_dilated: ([x, y], [tx, ty], [out], p) =>
      isFloat(out!.dtype) ? [addAll([tx ? conv(tx, y!, p) : null, ty ? conv(x!, ty, p) : null])] : [null],
  },
  vjp: {
    dot_general: ([x, y], _o, [ct], p, [ax, ay]) => {
      if (!isFloat(x!.dtype)) return [null, null];
      return [ax ? dotTransposeLhs(ct!, x!, y!, p, false) : null, ay ? dotTransposeRhs(ct!, x!, y!, p) : null];
    },
    conv_general_dilated: ([x, y], _o, [ct], p, [ax, ay]) => {
      if (!isFloat(x!.dtype)) return [null, null];
      return [ax ? convTransposeLhs(ct!, x!, y!, p) : null, ay ? convTransposeRhs(ct!, x!, y!, p) : null];
    },
  },
};
