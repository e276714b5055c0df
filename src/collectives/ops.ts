/**
 * Collectives as program ops, named and parameterised as in JAX (jax.lax.psum, pmax, pmin,
 * all_gather, psum_scatter, all_to_all, ppermute, axis_index): the contract between the
 * program IR (layer 3), shard_map and the SPMD partitioner (layer 4) and the executors.
 *
 * Every op names its mesh axes and carries their sizes, so a program is self-contained:
 * shapes, dumps and prices need no mesh. The group of a call is the set of cores that
 * differ from the caller only along `axes`; a core's rank in it is its row-major index
 * over `axes` in the order given (src/collectives/mesh.ts axisGroup), as JAX's axis_index.
 *
 * This module is pure: shape rules, the mapping onto layer 2's collective calls, and the
 * reference semantics over all ranks of one group at once (reference.ts).
 */
import type { AbstractValue, TensorView } from '../tpu/tensor.js';
import { CollectiveUsageError } from './errors.js';
import {
  referenceAllGather,
  referenceAllReduce,
  referenceAllToAll,
  referencePermute,
  referenceReduceScatter,
} from './reference.js';
import { type CollectiveParams, checkReduceDType, collectiveOutputShape } from './semantics.js';

export const COLLECTIVE_PRIMITIVES = ['psum', 'pmax', 'pmin', 'all_gather', 'psum_scatter', 'all_to_all', 'ppermute', 'axis_index'] as const;

export type CollectiveName = (typeof COLLECTIVE_PRIMITIVES)[number];

/** The mesh axes of a collective and their sizes; the group has prod(axisSizes) ranks. */
export interface AxisParams {
  readonly axes: readonly string[];
  readonly axisSizes: readonly number[];
}

export interface CollectivePrimitiveParams {
  /** (x) -> sum over the group, on every rank. */
  psum: AxisParams;
  pmax: AxisParams;
  pmin: AxisParams;
  /** (x) -> every rank's x, stacked at `axis` (tiled: concatenated along it). */
  all_gather: AxisParams & { readonly axis: number; readonly tiled: boolean };
  /** (x) -> this rank's part of the sum, split along scatterDimension (tiled: a block of it). */
  psum_scatter: AxisParams & { readonly scatterDimension: number; readonly tiled: boolean };
  /** (x) -> x split along splitAxis, part j sent to rank j, received parts concatenated along concatAxis. */
  all_to_all: AxisParams & { readonly splitAxis: number; readonly concatAxis: number; readonly tiled: boolean };
  /** (x) -> x of the rank whose pair (src, this rank) is in perm, zeros where none is. */
  ppermute: AxisParams & { readonly perm: readonly (readonly [number, number])[] };
  /** () -> this rank's index along axes, an i32 scalar. */
  axis_index: AxisParams;
}

const NAMES: ReadonlySet<string> = new Set(COLLECTIVE_PRIMITIVES);

export function isCollective(op: string): op is CollectiveName {
  return NAMES.has(op);
}

/** Ranks in the group of a collective: the product of its axis sizes. */
export function groupSize(params: AxisParams): number {
  if (params.axes.length === 0) throw new CollectiveUsageError('axis_name: at least one mesh axis is needed');
  if (params.axes.length !== params.axisSizes.length) {
    throw new CollectiveUsageError(`axis_name: ${params.axes.length} axes but ${params.axisSizes.length} axis sizes`);
  }
  if (new Set(params.axes).size !== params.axes.length) throw new CollectiveUsageError(`axis_name: repeated axis in (${params.axes.join(', ')})`);
  let p = 1;
  params.axisSizes.forEach((s, i) => {
    if (!Number.isSafeInteger(s) || s < 1) throw new CollectiveUsageError(`axis '${params.axes[i]}' must have a positive size, got ${s}`);
    p *= s;
  });
  return p;
}

/** The layer-2 collective call of an op (undefined for axis_index, which moves no data). */
export function layer2Call<N extends CollectiveName>(op: N, params: CollectivePrimitiveParams[N]): CollectiveParams | undefined {
  const q = params as CollectivePrimitiveParams[CollectiveName];
  switch (op) {
    case 'psum':
      return { kind: 'all-reduce', params: { op: 'sum' } };
    case 'pmax':
      return { kind: 'all-reduce', params: { op: 'max' } };
    case 'pmin':
      return { kind: 'all-reduce', params: { op: 'min' } };
    case 'all_gather': {
      const g = q as CollectivePrimitiveParams['all_gather'];
      return { kind: 'all-gather', params: { axis: g.axis, tiled: g.tiled } };
    }
    case 'psum_scatter': {
      const s = q as CollectivePrimitiveParams['psum_scatter'];
      return { kind: 'reduce-scatter', params: { scatterDimension: s.scatterDimension, tiled: s.tiled, op: 'sum' } };
    }
    case 'all_to_all': {
      const a = q as CollectivePrimitiveParams['all_to_all'];
      return { kind: 'all-to-all', params: { splitAxis: a.splitAxis, concatAxis: a.concatAxis, tiled: a.tiled } };
    }
    case 'ppermute':
      return { kind: 'collective-permute', params: { perm: (q as CollectivePrimitiveParams['ppermute']).perm } };
    default:
      return undefined;
  }
}

/** Output shapes and dtypes of a collective op; throws CollectiveUsageError naming the problem. */
export function collectiveShapes<N extends CollectiveName>(op: N, inputs: readonly AbstractValue[], params: CollectivePrimitiveParams[N]): AbstractValue[] {
  const p = groupSize(params);
  if (op === 'axis_index') {
    if (inputs.length !== 0) throw new CollectiveUsageError(`axis_index takes no operands, got ${inputs.length}`);
    return [{ shape: [], dtype: 'i32' }];
  }
  if (inputs.length !== 1) throw new CollectiveUsageError(`${op} takes one operand, got ${inputs.length}`);
  const x = inputs[0]!;
  if (op === 'pmax' || op === 'pmin') checkReduceDType(op, x.dtype);
  const call = layer2Call(op, params)!;
  return [{ shape: collectiveOutputShape(call, x.shape, x.dtype, p), dtype: x.dtype }];
}

/**
 * What the op computes for one group: `operands[r]` is rank r's operand list; the result
 * is each rank's outputs. The oracle for the lockstep interpreter and the communicator.
 */
export function referenceCollective<N extends CollectiveName>(
  op: N,
  params: CollectivePrimitiveParams[N],
  operands: readonly (readonly TensorView[])[],
): TensorView[][] {
  const p = groupSize(params);
  if (operands.length !== p) throw new CollectiveUsageError(`${op}: ${operands.length} ranks given for a group of ${p}`);
  if (op === 'axis_index') {
    return operands.map((_, r) => [{ shape: [], dtype: 'i32', data: Int32Array.of(r) }]);
  }
  const xs = operands.map((ins) => {
    if (ins.length !== 1) throw new CollectiveUsageError(`${op} takes one operand, got ${ins.length}`);
    return ins[0]!;
  });
  const call = layer2Call(op, params)!;
  let outs: TensorView[];
  switch (call.kind) {
    case 'all-reduce':
      outs = referenceAllReduce(xs, call.params.op);
      break;
    case 'all-gather':
      outs = referenceAllGather(xs, call.params);
      break;
    case 'reduce-scatter':
      outs = referenceReduceScatter(xs, call.params);
      break;
    case 'all-to-all':
      outs = referenceAllToAll(xs, call.params);
      break;
    case 'collective-permute':
      outs = referencePermute(xs, call.params.perm);
      break;
    default:
      throw new CollectiveUsageError(`${op}: no reference semantics`);
  }
  return outs.map((o) => [o]);
}
