/**
 * The sharding rule of every primitive (layer 4's table keyed by PrimitiveName): how a
 * sharding moves between an equation's operands and its outputs, in both directions.
 *
 * A rule lists links, one per (operand, output) pair that share dims. Most links are a dim
 * correspondence (output dim j holds operand dim sourceDim[j], or none); reshape has its
 * own. Each link has the aggressiveness level from which propagation may use it, forward
 * and backward, after XLA (REFERENCES.md): element-wise, transpose, reshape, slice, pad,
 * concatenate at 0; dot, reduce, convolution, windows, sort, scans, gather/scatter at 1;
 * broadcast last (backward at 2, forward only at 3, so a broadcast does not force its
 * sharding on users that will be sharded better by their other operands).
 *
 * What each family keeps, as XLA's propagation does:
 * - element-wise ops: every dim (operands of another rank, such as clamp's scalar bounds
 *   or threefry's scalar keys, take no part);
 * - transpose permutes; broadcast_in_dim maps operand dims to their broadcast positions
 *   (size-1 dims that are expanded carry nothing); reduce/argmax drop the reduced dims;
 * - slice, dynamic_slice, dynamic_update_slice, pad, rev and concatenate keep the dims they
 *   do not cut, pad, reverse or join;
 * - cumsum/cumprod/cummax/cummin, sort, top_k and approx top-k never shard the scanned or
 *   sorted dim;
 * - dot_general maps batch dims and each operand's free dims to the output; contracting
 *   dims do not reach the output (their partial sums are all-reduced by the partitioner);
 * - conv_general_dilated maps the batch dim (no batch grouping), spatial dims (the
 *   partitioner exchanges halos) and the kernel's output-feature dim (no feature grouping);
 * - reduce_window and select_and_scatter_add keep every dim (spatial ones by halo exchange);
 * - gather: the output's batch dims follow the indices' batch dims and its offset dims the
 *   operand dims that are sliced whole; scatter_add keeps the operand's sharding, and the
 *   updates' window dims follow the operand dims they cover whole.
 */
import type { Equation } from '../program/ir.js';
import type { PrimitiveName } from '../tpu/ops.js';
import { BINARY_OPS, COMPARE_OPS, UNARY_OPS } from '../tpu/ops.js';
import type { HloSharding } from './sharding.js';
import { remapDims, reshapeSharding } from './sharding_util.js';

export interface ShardingLink {
  readonly operand: number;
  readonly output: number;
  /** Lowest aggressiveness at which the output may take the operand's sharding. */
  readonly forwardLevel: number;
  /** Lowest aggressiveness at which the operand may take the output's sharding. */
  readonly backwardLevel: number;
  forward(s: HloSharding): HloSharding | undefined;
  backward(s: HloSharding): HloSharding | undefined;
}

export type ShardingRule<N extends PrimitiveName> = (eq: Equation<N>) => ShardingLink[];
export type ShardingRuleTable = { readonly [K in PrimitiveName]: ShardingRule<K> };

/** A link by dim correspondence: output dim j holds operand dim outToIn[j] (null: none). */
function dimLink(operand: number, output: number, inRank: number, outToIn: readonly (number | null)[], level: number, backwardLevel = level): ShardingLink {
  const inToOut: (number | null)[] = new Array<number | null>(inRank).fill(null);
  outToIn.forEach((src, j) => {
    if (src !== null) inToOut[src] = j;
  });
  return {
    operand,
    output,
    forwardLevel: level,
    backwardLevel,
    forward: (s) => remapDims(s, outToIn),
    backward: (s) => remapDims(s, inToOut),
  };
}

const rankIn = (eq: Equation, i: number): number => eq.inputs[i]!.aval.shape.length;
const shapeIn = (eq: Equation, i: number): readonly number[] => eq.inputs[i]!.aval.shape;
const shapeOut = (eq: Equation, k: number): readonly number[] => eq.outputs[k]!.aval.shape;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Every operand of the output's rank linked to every output, dim for dim, keeping dims `keep` allows. */
function elementwise(eq: Equation, level = 0, keep: (dim: number) => boolean = () => true): ShardingLink[] {
  const links: ShardingLink[] = [];
  const rank = shapeOut(eq, 0).length;
  eq.inputs.forEach((a, i) => {
    if (a.aval.shape.length !== rank) return;
    eq.outputs.forEach((_, k) => links.push(dimLink(i, k, rank, range(rank).map((d) => (keep(d) ? d : null)), level)));
  });
  return links;
}

/** Operand 0 to output 0, keeping the dims `keep` allows. */
function keepDims(eq: Equation, keep: (dim: number) => boolean, level = 0): ShardingLink[] {
  const rank = rankIn(eq, 0);
  return [dimLink(0, 0, rank, range(rank).map((d) => (keep(d) ? d : null)), level)];
}

/** Output dims are the operand dims not in `removed`, in order. */
function dropDims(eq: Equation, removed: readonly number[], level = 1): ShardingLink[] {
  const kept = range(rankIn(eq, 0)).filter((d) => !removed.includes(d));
  return eq.outputs.map((_, k) => dimLink(0, k, rankIn(eq, 0), kept, level));
}

const elementwiseRule = <N extends PrimitiveName>(): ShardingRule<N> => (eq) => elementwise(eq as Equation);

function scanRule<N extends 'cumsum' | 'cumprod' | 'cummax' | 'cummin'>(): ShardingRule<N> {
  return (eq) => elementwise(eq as Equation, 1, (d) => d !== eq.params.axis);
}

function reduceRule<N extends 'reduce_sum' | 'reduce_max' | 'reduce_min' | 'reduce_prod' | 'reduce_and' | 'reduce_or'>(): ShardingRule<N> {
  return (eq) => dropDims(eq as Equation, eq.params.axes);
}

function windowRule<N extends 'reduce_window_sum' | 'reduce_window_max' | 'reduce_window_min'>(): ShardingRule<N> {
  return (eq) => keepDims(eq as Equation, () => true, 1);
}

const topKRule = (dim: (eq: Equation) => number): ShardingRule<'top_k' | 'approx_max_k' | 'approx_min_k'> => (eq) =>
  dropDimsKeepRank(eq as Equation, dim(eq as Equation));

/** Outputs of the operand's rank with `dim` unsplit (top-k and sort keep the rank). */
function dropDimsKeepRank(eq: Equation, dim: number): ShardingLink[] {
  const rank = rankIn(eq, 0);
  return eq.outputs.map((_, k) => dimLink(0, k, rank, range(rank).map((d) => (d === dim ? null : d)), 1));
}

function dotLinks(eq: Equation<'dot_general'>): ShardingLink[] {
  const { contractingDims: [lc, rc], batchDims: [lb, rb] } = eq.params;
  const free = (rank: number, batch: readonly number[], contract: readonly number[]) =>
    range(rank).filter((d) => !batch.includes(d) && !contract.includes(d));
  const lf = free(rankIn(eq, 0), lb, lc);
  const rf = free(rankIn(eq, 1), rb, rc);
  const outRank = lb.length + lf.length + rf.length;
  const lhs: (number | null)[] = new Array<number | null>(outRank).fill(null);
  const rhs: (number | null)[] = new Array<number | null>(outRank).fill(null);
  lb.forEach((d, j) => (lhs[j] = d));
  rb.forEach((d, j) => (rhs[j] = d));
  lf.forEach((d, j) => (lhs[lb.length + j] = d));
  rf.forEach((d, j) => (rhs[lb.length + lf.length + j] = d));
  return [dimLink(0, 0, rankIn(eq, 0), lhs, 1), dimLink(1, 0, rankIn(eq, 1), rhs, 1)];
}

function convLinks(eq: Equation<'conv_general_dilated'>): ShardingLink[] {
  const { dimensionNumbers: dn, featureGroupCount, batchGroupCount } = eq.params;
  const outRank = shapeOut(eq, 0).length;
  const lhs: (number | null)[] = new Array<number | null>(outRank).fill(null);
  const rhs: (number | null)[] = new Array<number | null>(outRank).fill(null);
  if (batchGroupCount === 1) lhs[dn.outSpec[0]!] = dn.lhsSpec[0]!;
  for (let s = 2; s < dn.outSpec.length; s++) lhs[dn.outSpec[s]!] = dn.lhsSpec[s]!;
  if (featureGroupCount === 1 && batchGroupCount === 1) rhs[dn.outSpec[1]!] = dn.rhsSpec[0]!;
  return [dimLink(0, 0, rankIn(eq, 0), lhs, 1), dimLink(1, 0, rankIn(eq, 1), rhs, 1)];
}

function gatherLinks(eq: Equation<'gather'>): ShardingLink[] {
  const dn = eq.params.dimensionNumbers;
  const operandShape = shapeIn(eq, 0);
  const outRank = shapeOut(eq, 0).length;
  const windowDims = range(operandShape.length).filter((d) => !dn.collapsedSliceDims.includes(d) && !(dn.operandBatchingDims ?? []).includes(d));
  const fromOperand: (number | null)[] = new Array<number | null>(outRank).fill(null);
  dn.offsetDims.forEach((o, k) => {
    const d = windowDims[k]!;
    if (eq.params.sliceSizes[d] === operandShape[d] && !dn.startIndexMap.includes(d)) fromOperand[o] = d;
  });
  const batchOut = range(outRank).filter((o) => !dn.offsetDims.includes(o));
  const fromIndices: (number | null)[] = new Array<number | null>(outRank).fill(null);
  batchOut.forEach((o, k) => (fromIndices[o] = k));
  return [dimLink(0, 0, operandShape.length, fromOperand, 1), dimLink(1, 0, rankIn(eq, 1), fromIndices, 1)];
}

function scatterLinks(eq: Equation<'scatter_add'>): ShardingLink[] {
  const dn = eq.params.dimensionNumbers;
  const operandShape = shapeIn(eq, 0);
  const updatesShape = shapeIn(eq, 2);
  const rank = operandShape.length;
  const windowDims = range(rank).filter((d) => !dn.insertedWindowDims.includes(d) && !(dn.operandBatchingDims ?? []).includes(d));
  // Output (= operand) dim d holds update dim u where the update window covers d whole.
  const fromUpdates: (number | null)[] = new Array<number | null>(rank).fill(null);
  dn.updateWindowDims.forEach((u, k) => {
    const d = windowDims[k]!;
    if (updatesShape[u] === operandShape[d] && !dn.scatterDimsToOperandDims.includes(d)) fromUpdates[d] = u;
  });
  return [dimLink(0, 0, rank, range(rank), 1), dimLink(2, 0, updatesShape.length, fromUpdates, 1)];
}

function broadcastLinks(eq: Equation<'broadcast_in_dim'>): ShardingLink[] {
  const outShape = shapeOut(eq, 0);
  const inShape = shapeIn(eq, 0);
  const outToIn: (number | null)[] = new Array<number | null>(outShape.length).fill(null);
  eq.params.broadcastDimensions.forEach((o, i) => {
    if (inShape[i] === outShape[o]) outToIn[o] = i;
  });
  return [dimLink(0, 0, inShape.length, outToIn, 3, 2)];
}

function reshapeLinks(eq: Equation<'reshape'>): ShardingLink[] {
  const from = shapeIn(eq, 0);
  const to = shapeOut(eq, 0);
  return [
    {
      operand: 0,
      output: 0,
      forwardLevel: 0,
      backwardLevel: 0,
      forward: (s) => reshapeSharding(s, from, to),
      backward: (s) => reshapeSharding(s, to, from),
    },
  ];
}

const isWhole = (eq: Equation, d: number, start: number, limit: number, stride = 1): boolean =>
  start === 0 && limit === shapeIn(eq, 0)[d] && stride === 1;

const ELEMENTWISE_NAMES = [...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS] as const;

type ElementwiseTable = { readonly [K in (typeof ELEMENTWISE_NAMES)[number]]: ShardingRule<K> };
const ELEMENTWISE_TABLE = Object.fromEntries(ELEMENTWISE_NAMES.map((n) => [n, elementwiseRule()])) as unknown as ElementwiseTable;

export const SHARDING_RULES: ShardingRuleTable = {
  ...ELEMENTWISE_TABLE,
  integer_pow: elementwiseRule(),
  select: elementwiseRule(),
  clamp: elementwiseRule(),
  convert_element_type: elementwiseRule(),
  bitcast_convert_type: elementwiseRule(),
  threefry2x32: elementwiseRule(),
  iota: () => [],
  broadcast_in_dim: broadcastLinks,
  reshape: reshapeLinks,
  transpose: (eq) => [dimLink(0, 0, rankIn(eq, 0), eq.params.permutation, 0)],
  slice: (eq) => keepDims(eq, (d) => isWhole(eq, d, eq.params.startIndices[d]!, eq.params.limitIndices[d]!, eq.params.strides?.[d] ?? 1)),
  dynamic_slice: (eq) => keepDims(eq, (d) => eq.params.sliceSizes[d] === shapeIn(eq, 0)[d]),
  dynamic_update_slice: (eq) => {
    const rank = rankIn(eq, 0);
    const covered = range(rank).map((d) => (shapeIn(eq, 1)[d] === shapeIn(eq, 0)[d] ? d : null));
    return [dimLink(0, 0, rank, covered, 0), dimLink(1, 0, rank, covered, 0)];
  },
  pad: (eq) => keepDims(eq, (d) => eq.params.paddingConfig[d]!.every((x) => x === 0)),
  concatenate: (eq) => elementwise(eq, 0, (d) => d !== eq.params.dimension),
  rev: (eq) => keepDims(eq, (d) => !eq.params.dimensions.includes(d)),
  reduce_sum: reduceRule(),
  reduce_max: reduceRule(),
  reduce_min: reduceRule(),
  reduce_prod: reduceRule(),
  reduce_and: reduceRule(),
  reduce_or: reduceRule(),
  argmax: (eq) => dropDims(eq, [eq.params.axis]),
  argmin: (eq) => dropDims(eq, [eq.params.axis]),
  reduce_window_sum: windowRule(),
  reduce_window_max: windowRule(),
  reduce_window_min: windowRule(),
  select_and_scatter_add: (eq) => {
    const rank = rankIn(eq, 1);
    return [dimLink(1, 0, rank, range(rank), 1), dimLink(0, 0, rank, range(rank), 1)];
  },
  cumsum: scanRule(),
  cumprod: scanRule(),
  cummax: scanRule(),
  cummin: scanRule(),
  dot_general: dotLinks,
  conv_general_dilated: convLinks,
  sort: (eq) => elementwise(eq, 1, (d) => d !== eq.params.dimension),
  top_k: topKRule((eq) => rankIn(eq, 0) - 1),
  approx_max_k: topKRule((eq) => (eq as Equation<'approx_max_k'>).params.reductionDimension),
  approx_min_k: topKRule((eq) => (eq as Equation<'approx_min_k'>).params.reductionDimension),
  gather: gatherLinks,
  scatter_add: scatterLinks,
};

/** The links of a primitive equation. */
export function shardingLinks<N extends PrimitiveName>(eq: Equation<N>): ShardingLink[] {
  const rule = SHARDING_RULES[eq.op] as ShardingRule<N>;
  return rule(eq);
}

