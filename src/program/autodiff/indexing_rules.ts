/**
 * Differentiation rules of gather, scatter_add and the selection primitives (sort, top_k,
 * approx_max_k/min_k). Gather and scatter_add are each other's transpose (JAX
 * _gather_transpose_rule, _scatter_add_transpose_rule); the selections move tangents along
 * the permutation or indices they chose (JAX _sort_jvp, _top_k_jvp).
 */
import { isFloat } from '../../tpu/dtype.js';
import type { GatherDimensionNumbers, PrimitiveParams, ScatterDimensionNumbers } from '../../tpu/ops.js';
import { tensorFrom } from '../../tpu/tensor.js';
import { Tensor, bind, bind1 } from '../tracer.js';
import { binary, broadcastInDim, compare, full, iota, reshape, scalar, select, zerosLike } from './builders.js';
import { linearJvp } from './linear.js';
import { NON_DIFFERENTIABLE, type RuleFamily } from './rule_types.js';

type IndexingName = 'gather' | 'scatter_add' | 'sort' | 'top_k' | 'approx_max_k' | 'approx_min_k' | 'threefry2x32';

function constI32(values: readonly number[]): Tensor {
  return Tensor.concrete(tensorFrom('i32', [values.length], values));
}

/** Full index vectors for `idx` used along `axis`: [...idx.shape, rank], other dims their own position. */
function fullIndices(idx: Tensor, axis: number): Tensor {
  const r = idx.shape.length;
  const cols = Array.from({ length: r }, (_, d) => (d === axis ? idx : iota('i32', idx.shape, d)));
  const withVectorDim = cols.map((c) => reshape(c, [...idx.shape, 1]));
  return r === 1 ? withVectorDim[0]! : bind1('concatenate', withVectorDim, { dimension: r });
}

function pointwiseGatherDims(r: number): GatherDimensionNumbers {
  const all = Array.from({ length: r }, (_, d) => d);
  return { offsetDims: [], collapsedSliceDims: all, startIndexMap: all };
}

function pointwiseScatterDims(r: number): ScatterDimensionNumbers {
  const all = Array.from({ length: r }, (_, d) => d);
  return { updateWindowDims: [], insertedWindowDims: all, scatterDimsToOperandDims: all };
}

/** x[..., idx[..., j], ...] along `axis` (numpy take_along_axis); idx has x's shape except along axis. */
export function takeAlongAxis(x: Tensor, idx: Tensor, axis: number): Tensor {
  const r = x.shape.length;
  return bind1('gather', [x, fullIndices(idx, axis)], {
    dimensionNumbers: pointwiseGatherDims(r),
    sliceSizes: x.shape.map(() => 1),
  });
}

/** The transpose of takeAlongAxis: `ct` added into zeros of `shape` at the positions `idx` names. */
export function scatterAlongAxis(ct: Tensor, idx: Tensor, axis: number, shape: readonly number[]): Tensor {
  const r = shape.length;
  return bind1('scatter_add', [full(shape, 0, ct.dtype), fullIndices(idx, axis), ct], {
    dimensionNumbers: pointwiseScatterDims(r),
  });
}

/** Gather clamps its start indices into range; clamp them the same way before scattering back. */
function clampGatherIndices(indices: Tensor, operandShape: readonly number[], p: PrimitiveParams['gather']): Tensor {
  const map = p.dimensionNumbers.startIndexMap;
  const hi = constI32(map.map((d) => operandShape[d]! - p.sliceSizes[d]!));
  const last = indices.shape.length - 1;
  return bind1('clamp', [scalar(0, 'i32'), indices, broadcastInDim(hi, indices.shape, [last])], {});
}

function gatherTranspose(ct: Tensor, operand: Tensor, indices: Tensor, p: PrimitiveParams['gather']): Tensor {
  const g = p.dimensionNumbers;
  const dnums: ScatterDimensionNumbers = {
    updateWindowDims: g.offsetDims,
    insertedWindowDims: g.collapsedSliceDims,
    scatterDimsToOperandDims: g.startIndexMap,
    ...(g.operandBatchingDims ? { operandBatchingDims: g.operandBatchingDims } : {}),
    ...(g.startIndicesBatchingDims ? { scatterIndicesBatchingDims: g.startIndicesBatchingDims } : {}),
  };
  return bind1('scatter_add', [zerosLike(operand), clampGatherIndices(indices, operand.shape, p), ct], {
    dimensionNumbers: dnums,
  });
}

/** The window size along each operand dim of a scatter (1 for inserted and batching dims). */
function scatterWindowSizes(operandRank: number, updates: Tensor, s: ScatterDimensionNumbers): number[] {
  const unit = new Set([...s.insertedWindowDims, ...(s.operandBatchingDims ?? [])]);
  let pos = 0;
  return Array.from({ length: operandRank }, (_, d) => (unit.has(d) ? 1 : updates.shape[s.updateWindowDims[pos++]!]!));
}

/**
 * The transpose of scatter_add with respect to the updates: gather the cotangent at the
 * windows, masked to zero where scatter_add dropped an out-of-range window (gather would
 * clamp it instead).
 */
function scatterUpdatesTranspose(ct: Tensor, indices: Tensor, updates: Tensor, p: PrimitiveParams['scatter_add']): Tensor {
  const s = p.dimensionNumbers;
  const sizes = scatterWindowSizes(ct.shape.length, updates, s);
  const gathered = bind1('gather', [ct, indices], {
    dimensionNumbers: {
      offsetDims: s.updateWindowDims,
      collapsedSliceDims: s.insertedWindowDims,
      startIndexMap: s.scatterDimsToOperandDims,
      ...(s.operandBatchingDims ? { operandBatchingDims: s.operandBatchingDims } : {}),
      ...(s.scatterIndicesBatchingDims ? { startIndicesBatchingDims: s.scatterIndicesBatchingDims } : {}),
    },
    sliceSizes: sizes,
  });
  const last = indices.shape.length - 1;
  const hi = broadcastInDim(constI32(s.scatterDimsToOperandDims.map((d) => ct.shape[d]! - sizes[d]!)), indices.shape, [last]);
  const inRange = binary('and', compare('ge', indices, full(indices.shape, 0, 'i32')), compare('le', indices, hi));
  const windowInRange = bind1('reduce_and', [inRange], { axes: [last] });
  const window = new Set(s.updateWindowDims);
  const scatterDims = updates.shape.map((_, d) => d).filter((d) => !window.has(d));
  return select(broadcastInDim(windowInRange, updates.shape, scatterDims), gathered, zerosLike(gathered));
}

/** The permutation sort applied along `dimension`, by sorting an iota alongside the operands. */
function sortPermutation(operands: readonly Tensor[], p: PrimitiveParams['sort']): Tensor {
  const perm = iota('i32', operands[0]!.shape, p.dimension);
  const outs = bind('sort', [...operands, perm], p);
  return outs[outs.length - 1]!;
}

type SelectName = 'top_k' | 'approx_max_k' | 'approx_min_k';
const selectAxis = (x: Tensor, name: SelectName, p: PrimitiveParams[SelectName]): number =>
  name === 'top_k' ? x.shape.length - 1 : (p as PrimitiveParams['approx_max_k']).reductionDimension;

function selectionRules<N extends SelectName>(name: N): RuleFamily<N> {
  return {
    jvp: {
      [name]: ([x]: readonly Tensor[], [t]: readonly (Tensor | null)[], [, indices]: readonly Tensor[], p: PrimitiveParams[N]) =>
        isFloat(x!.dtype) && t ? [takeAlongAxis(t, indices!, selectAxis(x!, name, p)), null] : [null, null],
    },
    vjp: {
      [name]: ([x]: readonly Tensor[], [, indices]: readonly Tensor[], [ct]: readonly (Tensor | null)[], p: PrimitiveParams[N], [a]: readonly boolean[]) =>
        a && ct && isFloat(x!.dtype) ? [scatterAlongAxis(ct, indices!, selectAxis(x!, name, p), x!.shape)] : [null],
    },
  } as unknown as RuleFamily<N>;
}

export const INDEXING_RULES: RuleFamily<IndexingName> = {
  jvp: {
    gather: linearJvp('gather', (i) => i === 0),
    scatter_add: linearJvp('scatter_add', (i) => i !== 1),
    sort: (xs, ts, _outs, p) => {
      const perm = sortPermutation(xs, p);
      return xs.map((x, i) => (ts[i] && isFloat(x.dtype) ? takeAlongAxis(ts[i]!, perm, p.dimension) : null));
    },
    threefry2x32: NON_DIFFERENTIABLE,
    ...selectionRules('top_k').jvp,
    ...selectionRules('approx_max_k').jvp,
    ...selectionRules('approx_min_k').jvp,
  },
  vjp: {
    gather: ([operand, indices], _o, [ct], p, [a]) =>
      a && isFloat(operand!.dtype) ? [gatherTranspose(ct!, operand!, indices!, p), null] : [null, null],
    scatter_add: ([operand, indices, updates], _o, [ct], p, [ao, , au]) => {
      if (!isFloat(operand!.dtype)) return [null, null, null];
      return [ao ? ct! : null, null, au ? scatterUpdatesTranspose(ct!, indices!, updates!, p) : null];
    },
    sort: (xs, _outs, cts, p, active) => {
      if (!xs.some((x, i) => active[i] && isFloat(x.dtype))) return xs.map(() => null);
      const perm = sortPermutation(xs, p);
      return xs.map((x, i) =>
        active[i] && cts[i] && isFloat(x.dtype) ? scatterAlongAxis(cts[i]!, perm, p.dimension, x.shape) : null,
      );
    },
    threefry2x32: NON_DIFFERENTIABLE,
    ...selectionRules('top_k').vjp,
    ...selectionRules('approx_max_k').vjp,
    ...selectionRules('approx_min_k').vjp,
  },
};
