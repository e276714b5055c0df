/**
 * Differentiation rules of the layout and reduction primitives. The layout primitives are
 * linear, so their JVP is the primitive on the tangent and their VJP its transpose (JAX:
 * the `ad.deflinear2` / transpose rules in jax/_src/lax/lax.py and slicing.py).
 */
import { isFloat } from '../../tpu/dtype.js';
import type { PrimitiveParams } from '../../tpu/ops.js';
import { Tensor, bind1 } from '../tracer.js';
import {
  broadcastInDim,
  compare,
  convert,
  div,
  mul,
  pad,
  reduceSum,
  reshape,
  rev,
  scalar,
  select,
  slice,
  sub,
  transpose,
  zerosLike,
  full,
  iota,
} from './builders.js';
import { linearJvp } from './linear.js';
import { NON_DIFFERENTIABLE, type RuleFamily } from './rule_types.js';

type StructuralName =
  | 'iota'
  | 'broadcast_in_dim'
  | 'reshape'
  | 'transpose'
  | 'slice'
  | 'dynamic_slice'
  | 'dynamic_update_slice'
  | 'pad'
  | 'concatenate'
  | 'rev'
  | 'reduce_sum'
  | 'reduce_max'
  | 'reduce_min'
  | 'reduce_prod'
  | 'reduce_and'
  | 'reduce_or'
  | 'argmax'
  | 'argmin'
  | 'cumsum'
  | 'cumprod'
  | 'cummax'
  | 'cummin';

export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** The dims of a rank-`rank` tensor that are not in `axes`, in order. */
export function keptDims(rank: number, axes: readonly number[]): number[] {
  const drop = new Set(axes);
  return Array.from({ length: rank }, (_, i) => i).filter((i) => !drop.has(i));
}

/** Transpose of broadcast_in_dim: sum the broadcast dims away, then restore x's layout. */
function unbroadcast(ct: Tensor, x: Tensor, broadcastDimensions: readonly number[]): Tensor {
  const outRank = ct.shape.length;
  const fromX = new Map<number, number>(); // output dim -> x dim it came from, when not expanded
  broadcastDimensions.forEach((d, i) => {
    if (x.shape[i] === ct.shape[d]) fromX.set(d, i);
  });
  const sumAxes = Array.from({ length: outRank }, (_, d) => d).filter((d) => !fromX.has(d));
  const summed = reduceSum(ct, sumAxes);
  // The remaining dims are in output order; put them in x's order, then re-insert x's 1s.
  const xDims = keptDims(outRank, sumAxes).map((d) => fromX.get(d)!);
  const order = xDims.map((_, i) => i).sort((a, b) => xDims[a]! - xDims[b]!);
  return reshape(transpose(summed, order), x.shape);
}

/** Transpose of slice: zero-pad back to the operand's shape (JAX _slice_transpose_rule). */
function unslice(ct: Tensor, x: Tensor, p: PrimitiveParams['slice']): Tensor {
  const strides = p.strides ?? p.startIndices.map(() => 1);
  const config = p.startIndices.map((start, d) => {
    const n = ct.shape[d]!;
    const realLimit = start + (n === 0 ? 0 : 1 + (n - 1) * strides[d]!);
    return [start, x.shape[d]! - realLimit, strides[d]! - 1] as const;
  });
  return pad(ct, scalar(0, ct.dtype), config);
}

/** Transpose of pad with respect to the operand (JAX _pad_transpose): unpad, then subsample. */
function unpad(ct: Tensor, p: PrimitiveParams['pad']): Tensor {
  const unpadded = pad(
    ct,
    scalar(0, ct.dtype),
    p.paddingConfig.map(([lo, hi]) => [-lo, -hi, 0] as const),
  );
  return slice(unpadded, {
    startIndices: unpadded.shape.map(() => 0),
    limitIndices: [...unpadded.shape],
    strides: p.paddingConfig.map(([, , interior]) => interior + 1),
  });
}

function sumAll(x: Tensor): Tensor {
  return reduceSum(x, x.shape.map((_, i) => i));
}

/**
 * reduce_max/min: the tangent is the mean of the tangents at the positions that attain the
 * extremum (JAX _reduce_chooser_jvp_rule). Returns the location weights, shape of x.
 */
function chooserWeights(x: Tensor, out: Tensor, axes: readonly number[]): Tensor {
  const kept = keptDims(x.shape.length, axes);
  const hits = convert(compare('eq', x, broadcastInDim(out, x.shape, kept)), x.dtype);
  const counts = reduceSum(hits, axes);
  return div(hits, broadcastInDim(counts, x.shape, kept));
}

/** `x` with `axes` moved to the end and flattened to one: [...kept, n]. */
function gatherAxesLast(x: Tensor, axes: readonly number[]): { flat: Tensor; perm: number[]; movedShape: number[] } {
  const kept = keptDims(x.shape.length, axes);
  const perm = [...kept, ...axes];
  const moved = transpose(x, perm);
  const n = axes.reduce((acc, a) => acc * x.shape[a]!, 1);
  return { flat: reshape(moved, [...kept.map((d) => x.shape[d]!), n]), perm, movedShape: [...moved.shape] };
}

/**
 * reduce_prod: ∂/∂x_i of ∏x is the product of all other elements, computed from exclusive
 * cumulative products from both sides so that zeros are handled exactly (as JAX does).
 */
function prodOthers(x: Tensor, axes: readonly number[]): Tensor {
  const { flat, perm, movedShape } = gatherAxesLast(x, axes);
  const last = flat.shape.length - 1;
  const one = scalar(1, x.dtype);
  const noPad = flat.shape.map(() => [0, 0, 0] as const);
  const shift = (t: Tensor, lo: number, hi: number): Tensor =>
    pad(t, one, noPad.map((c, d) => (d === last ? ([lo, hi, 0] as const) : c)));
  const before = shift(bind1('cumprod', [flat], { axis: last, reverse: false }), 1, -1);
  const after = shift(bind1('cumprod', [flat], { axis: last, reverse: true }), -1, 1);
  return transpose(reshape(mul(before, after), movedShape), inversePermutation(perm));
}

type CumName = 'cumprod' | 'cummax' | 'cummin';

/** Moves `axis` to the end (and reverses it for a reverse scan): a forward scan along the last dim. */
function toLastAxis(x: Tensor, axis: number, reverse: boolean): Tensor {
  const r = x.shape.length;
  const perm = [...keptDims(r, [axis]), axis];
  const moved = transpose(x, perm);
  return reverse ? rev(moved, [r - 1]) : moved;
}

function fromLastAxis(x: Tensor, axis: number, reverse: boolean): Tensor {
  const r = x.shape.length;
  const unrev = reverse ? rev(x, [r - 1]) : x;
  return transpose(unrev, inversePermutation([...keptDims(r, [axis]), axis]));
}

/**
 * The Jacobian of a forward scan along the last dim as W[..., j, i] = ∂y_i/∂x_j (zero for
 * j > i). Quadratic in the scanned length, exact (zeros in cumprod, ties in cummax split
 * evenly like reduce_max). `x` and `y` are already in last-axis form.
 */
function scanJacobian(op: CumName, x: Tensor, y: Tensor): Tensor {
  const r = x.shape.length;
  const n = x.shape[r - 1]!;
  const lead = x.shape.slice(0, r - 1);
  const sq = [...lead, n, n]; // [..., j, i]
  const jIdx = iota('i32', sq, r - 1);
  const iIdx = iota('i32', sq, r);
  const causal = compare('le', jIdx, iIdx);
  const zero = full(sq, 0, x.dtype);
  const leadDims = lead.map((_, d) => d);
  if (op === 'cumprod') {
    // Row j: the scan of x with x_j replaced by 1, so C[j, i] = ∏_{k<=i, k!=j} x_k.
    const xs = broadcastInDim(x, sq, [...leadDims, r]);
    const rows = select(compare('eq', jIdx, iIdx), full(sq, 1, x.dtype), xs);
    return select(causal, bind1('cumprod', [rows], { axis: r, reverse: false }), zero);
  }
  const xj = broadcastInDim(x, sq, [...leadDims, r - 1]);
  const yi = broadcastInDim(y, sq, [...leadDims, r]);
  const hits = convert(binaryAnd(causal, compare('eq', xj, yi)), x.dtype);
  const counts = reduceSum(hits, [r - 1]);
  return div(hits, broadcastInDim(counts, sq, [...leadDims, r]));
}

function binaryAnd(a: Tensor, b: Tensor): Tensor {
  return bind1('and', [a, b], {});
}

function scanJvp(op: CumName, x: Tensor, t: Tensor, y: Tensor, axis: number, reverse: boolean): Tensor {
  const r = x.shape.length;
  const w = scanJacobian(op, toLastAxis(x, axis, reverse), toLastAxis(y, axis, reverse));
  const tl = toLastAxis(t, axis, reverse);
  const lead = keptDims(r, [r - 1]);
  const dy = reduceSum(mul(w, broadcastInDim(tl, w.shape, [...lead, r - 1])), [r - 1]);
  return fromLastAxis(dy, axis, reverse);
}

function scanVjp(op: CumName, x: Tensor, ct: Tensor, y: Tensor, axis: number, reverse: boolean): Tensor {
  const r = x.shape.length;
  const w = scanJacobian(op, toLastAxis(x, axis, reverse), toLastAxis(y, axis, reverse));
  const cl = toLastAxis(ct, axis, reverse);
  const lead = keptDims(r, [r - 1]);
  const dx = reduceSum(mul(w, broadcastInDim(cl, w.shape, [...lead, r])), [r]);
  return fromLastAxis(dx, axis, reverse);
}

const floatIn = (x: Tensor | undefined): boolean => x !== undefined && isFloat(x.dtype);
const isIndexOperandFrom = (first: number) => (i: number) => i < first;

export const STRUCTURAL_RULES: RuleFamily<StructuralName> = {
  jvp: {
    iota: NON_DIFFERENTIABLE,
    broadcast_in_dim: linearJvp('broadcast_in_dim'),
    reshape: linearJvp('reshape'),
    transpose: linearJvp('transpose'),
    slice: linearJvp('slice'),
    dynamic_slice: linearJvp('dynamic_slice', isIndexOperandFrom(1)),
    dynamic_update_slice: linearJvp('dynamic_update_slice', isIndexOperandFrom(2)),
    pad: linearJvp('pad'),
    concatenate: linearJvp('concatenate'),
    rev: linearJvp('rev'),
    reduce_sum: linearJvp('reduce_sum'),
    reduce_max: ([x], [t], [out], { axes }) =>
      floatIn(x) ? [reduceSum(mul(t!, chooserWeights(x!, out!, axes)), axes)] : [null],
    reduce_min: ([x], [t], [out], { axes }) =>
      floatIn(x) ? [reduceSum(mul(t!, chooserWeights(x!, out!, axes)), axes)] : [null],
    reduce_prod: ([x], [t], _outs, { axes }) => (floatIn(x) ? [reduceSum(mul(t!, prodOthers(x!, axes)), axes)] : [null]),
    reduce_and: NON_DIFFERENTIABLE,
    reduce_or: NON_DIFFERENTIABLE,
    argmax: NON_DIFFERENTIABLE,
    argmin: NON_DIFFERENTIABLE,
    cumsum: linearJvp('cumsum'),
    cumprod: ([x], [t], [y], { axis, reverse }) => (floatIn(x) ? [scanJvp('cumprod', x!, t!, y!, axis, reverse)] : [null]),
    cummax: ([x], [t], [y], { axis, reverse }) => (floatIn(x) ? [scanJvp('cummax', x!, t!, y!, axis, reverse)] : [null]),
    cummin: ([x], [t], [y], { axis, reverse }) => (floatIn(x) ? [scanJvp('cummin', x!, t!, y!, axis, reverse)] : [null]),
  },
  vjp: {
    iota: NON_DIFFERENTIABLE,
    broadcast_in_dim: ([x], _o, [ct], { broadcastDimensions }, [a]) =>
      a && floatIn(x) ? [unbroadcast(ct!, x!, broadcastDimensions)] : [null],
    reshape: ([x], _o, [ct], _p, [a]) => (a && floatIn(x) ? [reshape(ct!, x!.shape)] : [null]),
    transpose: ([x], _o, [ct], { permutation }, [a]) =>
      a && floatIn(x) ? [transpose(ct!, inversePermutation(permutation))] : [null],
    slice: ([x], _o, [ct], p, [a]) => (a && floatIn(x) ? [unslice(ct!, x!, p)] : [null]),
    dynamic_slice: ([x, ...starts], _o, [ct], _p, [a]) => [
      a && floatIn(x) ? bind1('dynamic_update_slice', [zerosLike(x!), ct!, ...starts], {}) : null,
      ...starts.map(() => null),
    ],
    dynamic_update_slice: ([x, update, ...starts], _o, [ct], _p, [ax, au]) => {
      if (!floatIn(x)) return [null, null, ...starts.map(() => null)];
      return [
        ax ? bind1('dynamic_update_slice', [ct!, zerosLike(update!), ...starts], {}) : null,
        au ? bind1('dynamic_slice', [ct!, ...starts], { sliceSizes: [...update!.shape] }) : null,
        ...starts.map(() => null),
      ];
    },
    pad: ([x], _o, [ct], p, [ax, apv]) => {
      if (!floatIn(x)) return [null, null];
      const ctX = unpad(ct!, p);
      return [ax ? ctX : null, apv ? sub(sumAll(ct!), sumAll(ctX)) : null];
    },
    concatenate: (xs, _o, [ct], { dimension }, active) => {
      let offset = 0;
      return xs.map((x, i) => {
        const start = offset;
        offset += x.shape[dimension]!;
        if (!active[i] || !floatIn(x)) return null;
        return slice(ct!, {
          startIndices: ct!.shape.map((_, d) => (d === dimension ? start : 0)),
          limitIndices: ct!.shape.map((n, d) => (d === dimension ? start + x.shape[dimension]! : n)),
        });
      });
    },
    rev: ([x], _o, [ct], { dimensions }, [a]) => (a && floatIn(x) ? [rev(ct!, dimensions)] : [null]),
    reduce_sum: ([x], _o, [ct], { axes }, [a]) =>
      a && floatIn(x) ? [broadcastInDim(ct!, x!.shape, keptDims(x!.shape.length, axes))] : [null],
    reduce_max: ([x], [out], [ct], { axes }, [a]) =>
      a && floatIn(x) ? [mul(broadcastInDim(ct!, x!.shape, keptDims(x!.shape.length, axes)), chooserWeights(x!, out!, axes))] : [null],
    reduce_min: ([x], [out], [ct], { axes }, [a]) =>
      a && floatIn(x) ? [mul(broadcastInDim(ct!, x!.shape, keptDims(x!.shape.length, axes)), chooserWeights(x!, out!, axes))] : [null],
    reduce_prod: ([x], _o, [ct], { axes }, [a]) =>
      a && floatIn(x) ? [mul(broadcastInDim(ct!, x!.shape, keptDims(x!.shape.length, axes)), prodOthers(x!, axes))] : [null],
    reduce_and: NON_DIFFERENTIABLE,
    reduce_or: NON_DIFFERENTIABLE,
    argmax: NON_DIFFERENTIABLE,
    argmin: NON_DIFFERENTIABLE,
    cumsum: ([x], _o, [ct], { axis, reverse }, [a]) =>
      a && floatIn(x) ? [bind1('cumsum', [ct!], { axis, reverse: !reverse })] : [null],
    cumprod: ([x], [y], [ct], { axis, reverse }, [a]) =>
      a && floatIn(x) ? [scanVjp('cumprod', x!, ct!, y!, axis, reverse)] : [null],
    cummax: ([x], [y], [ct], { axis, reverse }, [a]) =>
      a && floatIn(x) ? [scanVjp('cummax', x!, ct!, y!, axis, reverse)] : [null],
    cummin: ([x], [y], [ct], { axis, reverse }, [a]) =>
      a && floatIn(x) ? [scanVjp('cummin', x!, ct!, y!, axis, reverse)] : [null],
  },
};
